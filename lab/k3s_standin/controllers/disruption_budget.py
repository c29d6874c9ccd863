"""The disruption controller: keeps each PodDisruptionBudget's status current, the numbers the
eviction subresource (`apiserver/eviction.py`) decides by.

As kube-controller-manager's (kubernetes/kubernetes pkg/controller/disruption/disruption.go,
`trySync`): the budget's pods are its namespace's pods matching `spec.selector` (a missing selector
matches none, `LabelSelectorAsSelector(nil)`); `getExpectedPodCount`: with `maxUnavailable` (int or
percent) or a percent `minAvailable`, expectedPods is the sum of the scales of the pods' controllers
(Deployment through its ReplicaSet, or a bare ReplicaSet; pods without a controller are left out),
percentages rounded up (`GetScaledValueFromIntOrPercent(..., true)`), desiredHealthy = expected -
maxUnavailable (never below 0) or the scaled minAvailable; an int `minAvailable` is desiredHealthy
itself with expectedPods the number of pods. currentHealthy counts Ready pods that are neither
terminating nor in `disruptedPods` (an eviction's mark, kept `DeletionTimeout` = 2 min);
disruptionsAllowed = currentHealthy - desiredHealthy, 0 when negative or when no pod is expected
(`updatePdbStatus`), with its DisruptionAllowed condition (`budget_status.py`); a budget whose pods'
controller cannot be found gets disruptionsAllowed 0 with reason SyncFailed (`failSafe`).

Example:
    DisruptionBudgets(api).reconcile()   # on the controllers' loop
    scaled("50%", 3)   # 2
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from k3s_standin.apiserver.selectors import matches_selector
from k3s_standin.client import Client, object_path, path
from k3s_standin.controllers import clock, log
from k3s_standin.controllers.budget_status import allowed_condition, with_condition
from k3s_standin.controllers.replicaset import pod_ready

Obj = dict[str, Any]
DELETION_TIMEOUT = 120.0
# The pod controllers the stand-in serves (no StatefulSet or ReplicationController).
WORKLOADS = (("ReplicaSet", "replicasets"), ("Deployment", "deployments"))


class SyncFailed(Exception):
    """`getExpectedScale` could not find a pod's controller."""


def budget_pods(pdb: Obj, pods: list[Obj]) -> list[Obj]:
    """The pods of the budget's namespace its selector matches; a missing selector matches none."""
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return []
    namespace = pdb["metadata"]["namespace"]
    return [pod for pod in pods if pod["metadata"].get("namespace") == namespace
            and matches_selector(selector, pod["metadata"].get("labels") or {})]


def scaled(value: int | str, total: int) -> int:
    """`intstr.GetScaledValueFromIntOrPercent` rounding up: 3 -> 3, "50%" of 3 -> 2."""
    if isinstance(value, int):
        return value
    if not value.endswith("%") or not value[:-1].isdigit():
        raise SyncFailed(f"invalid value for IntOrString: invalid value {value!r}: not a percentage")
    return math.ceil(int(value[:-1]) * total / 100)


def expected_scale(pods: list[Obj], scale_of: Callable[[Obj], tuple[str, int] | None]) -> int:
    """The sum of the scales of the pods' controllers, each counted once (`getExpectedScale`)."""
    scales: dict[str, int] = {}
    for pod in pods:
        ref = next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
        if ref is None or ref.get("uid") in scales:
            continue
        found = scale_of(ref)
        if found is None:
            raise SyncFailed(f'found no controllers for pod "{pod["metadata"]["name"]}"')
        scales[ref["uid"]] = found[1]
    return sum(scales.values())


def expected_and_desired(pdb: Obj, pods: list[Obj], scale_of: Callable[[Obj], tuple[str, int] | None]) -> tuple[int, int]:
    """(expectedPods, desiredHealthy) as `getExpectedPodCount` computes them."""
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        expected = expected_scale(pods, scale_of)
        return expected, max(expected - scaled(spec["maxUnavailable"], expected), 0)
    minimum = spec.get("minAvailable")
    if isinstance(minimum, int):
        return len(pods), minimum
    if minimum is not None:
        expected = expected_scale(pods, scale_of)
        return expected, scaled(minimum, expected)
    return 0, 0


def kept_disruptions(pdb: Obj, pods: list[Obj], now: float) -> dict[str, str]:
    """`buildDisruptedPodMap`: marks of pods still there, not yet terminating, younger than the timeout."""
    marks = (pdb.get("status") or {}).get("disruptedPods") or {}
    return {pod["metadata"]["name"]: marks[pod["metadata"]["name"]] for pod in pods
            if pod["metadata"]["name"] in marks and not pod["metadata"].get("deletionTimestamp")
            and clock.parse(marks[pod["metadata"]["name"]]) + DELETION_TIMEOUT > now}


def current_healthy(pods: list[Obj], disrupted: dict[str, str]) -> int:
    """`countHealthyPods`: Ready pods neither terminating nor marked for eviction."""
    return sum(1 for pod in pods if not pod["metadata"].get("deletionTimestamp")
               and pod["metadata"]["name"] not in disrupted and pod_ready(pod))


class DisruptionBudgets:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        budgets = self.api.list(path("policy/v1", "poddisruptionbudgets"))
        if not budgets:
            return
        pods = self.api.list(path("v1", "pods"))
        owners = {obj["metadata"]["uid"]: (kind, obj) for kind, resource in WORKLOADS
                  for obj in self.api.list(path("apps/v1", resource))}
        for pdb in budgets:
            self.sync(pdb, budget_pods(pdb, pods), owners)

    def sync(self, pdb: Obj, pods: list[Obj], owners: dict[str, tuple[str, Obj]]) -> None:
        old = pdb.get("status") or {}
        conditions = old.get("conditions") or []
        generation = pdb["metadata"].get("generation", 1)
        try:
            expected, desired = expected_and_desired(pdb, pods, lambda ref: _scale_of(ref, owners))
        except SyncFailed as error:
            failed = {**old, "disruptionsAllowed": 0}
            condition = allowed_condition(failed, conditions, "SyncFailed", str(error))
            return self.write(pdb, {**failed, "conditions": with_condition(conditions, condition)})
        disrupted = kept_disruptions(pdb, pods, time.time())
        healthy = current_healthy(pods, disrupted)
        allowed = healthy - desired if expected > 0 and healthy > desired else 0
        status: Obj = {"observedGeneration": generation, "disruptionsAllowed": allowed, "currentHealthy": healthy,
                       "desiredHealthy": desired, "expectedPods": expected}
        if disrupted:
            status["disruptedPods"] = disrupted
        status["conditions"] = with_condition(conditions, allowed_condition(status, conditions))
        if status != old:
            self.write(pdb, status)

    def write(self, pdb: Obj, status: Obj) -> None:
        """The status computed from ``pdb`` as read, unless the budget changed since: an eviction's
        decrement in between must not be overwritten by a count from before it (disruption.go
        `updatePdbStatus` writes the informer's object, its resourceVersion a precondition: a conflict
        requeues the budget, and the next sync counts afresh)."""
        def change(obj: Obj) -> bool:
            if obj["metadata"].get("resourceVersion") != pdb["metadata"].get("resourceVersion"):
                return False
            obj["status"] = status
            return True
        written = self.api.mutate(object_path("policy/v1", "poddisruptionbudgets", pdb, "status"), change)
        if written is None or written.get("status") != status:
            return
        meta = pdb["metadata"]
        log.info(f"PodDisruptionBudget {meta['namespace']}/{meta['name']}: disruptionsAllowed="
                 f"{status.get('disruptionsAllowed', 0)} (healthy {status.get('currentHealthy', 0)}, "
                 f"desired {status.get('desiredHealthy', 0)})")


def _scale_of(ref: Obj, owners: dict[str, tuple[str, Obj]]) -> tuple[str, int] | None:
    """(uid, replicas) of the workload a pod's controller reference leads to: the Deployment owning its
    ReplicaSet, else the ReplicaSet (`getPodDeployment`, `getPodReplicaSet`)."""
    kind, owner = owners.get(ref.get("uid", ""), ("", {}))
    if kind != ref.get("kind"):
        return None
    parent_ref = next((r for r in owner["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
    parent_kind, parent = owners.get(parent_ref["uid"], ("", {})) if parent_ref else ("", {})
    chosen = parent if parent_kind == "Deployment" else owner
    return chosen["metadata"]["uid"], int((chosen.get("spec") or {}).get("replicas", 1))
