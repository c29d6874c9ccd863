"""The DisruptionAllowed condition of a PodDisruptionBudget's status, written by the disruption
controller and by the eviction subresource when it takes the last allowed disruption.

As kubernetes/kubernetes staging/src/k8s.io/component-helpers/apps/poddisruptionbudget/helpers.go
`UpdateDisruptionAllowedCondition`: True with reason SufficientPods while disruptionsAllowed > 0, else
False with InsufficientPods; the controller's `failSafe` sets False with SyncFailed and the error. `meta.SetStatusCondition` keeps
lastTransitionTime while the condition's status holds.

Example:
    allowed_condition({"disruptionsAllowed": 0, "observedGeneration": 1}, [])["reason"]  # "InsufficientPods"
"""

from __future__ import annotations

from typing import Any

from k3s_standin.controllers import clock

Obj = dict[str, Any]
CONDITION = "DisruptionAllowed"


def allowed_condition(status: Obj, conditions: list[Obj], reason: str | None = None, message: str = "") -> Obj:
    """The DisruptionAllowed condition for `status` (`UpdateDisruptionAllowedCondition`, or the
    `failSafe` one when `reason` is given), its lastTransitionTime kept while its status holds
    (`meta.SetStatusCondition`)."""
    allowed = status.get("disruptionsAllowed", 0) > 0 and reason is None
    wanted = {"type": CONDITION, "status": "True" if allowed else "False",
              "observedGeneration": status.get("observedGeneration", 0),
              "reason": reason or ("SufficientPods" if allowed else "InsufficientPods"), "message": message}
    old = next((c for c in conditions if c.get("type") == CONDITION), None)
    stamp = old["lastTransitionTime"] if old and old.get("status") == wanted["status"] else clock.rfc3339()
    return {**wanted, "lastTransitionTime": stamp}


def with_condition(conditions: list[Obj], condition: Obj) -> list[Obj]:
    return [c for c in conditions if c.get("type") != CONDITION] + [condition]
