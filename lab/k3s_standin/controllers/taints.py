"""Taint/toleration matching, as `k8s.io/api/core/v1` ToleratesTaint defines it.

Example:
    tolerates({"key": "node.kubernetes.io/unreachable", "operator": "Exists"},
              {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"})  # True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """True when one toleration matches one taint (empty effect/key match all, as in Kubernetes)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def tolerated(taint: Obj, tolerations: Iterable[Obj]) -> bool:
    return any(tolerates(toleration, taint) for toleration in tolerations)


def first_untolerated(taints: Iterable[Obj], tolerations: list[Obj],
                      effects: tuple[str, ...] = (NO_SCHEDULE, NO_EXECUTE)) -> Obj | None:
    """The first taint with one of `effects` that no toleration matches (scheduler order)."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerated(taint, tolerations):
            return taint
    return None


def describe(taint: Obj) -> str:
    """`{key: value}` as the scheduler prints an untolerated taint."""
    return "{%s: %s}" % (taint.get("key", ""), taint.get("value", ""))
