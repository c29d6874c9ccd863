"""POST pods/<name>/eviction (policy/v1 Eviction): a pod deletion that honours its PodDisruptionBudget.

As kube-apiserver's EvictionREST (kubernetes/kubernetes pkg/registry/core/pod/storage/eviction.go,
v1.31): a pod that is Pending, finished or already terminating is deleted without asking its budget
(`canIgnorePDB`); otherwise the one budget in its namespace whose selector matches it decides (more
than one is a 500 "This pod has more than one PodDisruptionBudget, which the eviction subresource does
not support."). A pod that is not Ready goes when the budget's policy is AlwaysAllow or the budget is
met anyway (currentHealthy >= desiredHealthy > 0). Else `checkAndDecrement`: a budget the disruption
controller has not yet seen at its generation answers 429 "...still being processed by the server."
with Retry-After 10; a negative disruptionsAllowed is 403; 0 answers 429 TooManyRequests "Cannot evict
pod as it would violate the pod's disruption budget." with the cause "The disruption budget <name>
needs <desired> healthy pods and has <current> currently" (no Retry-After: kubectl drain waits its own
5 s). Allowed: disruptionsAllowed - 1 and the pod's mark in `status.disruptedPods` are written, then
the pod gets the DisruptionTarget condition (EvictionByEvictionAPI, "Eviction API: evicting";
`addConditionAndDeletePod`) and is deleted as a DELETE would delete it (gracefully). `dryRun` checks
and writes nothing.

Example:
    evict(operations, "default", "web-5d8f7-abcde", {"metadata": {"name": "web-5d8f7-abcde"}})
"""

from __future__ import annotations

import copy
from typing import Any

from k3s_standin.apiserver import errors
from k3s_standin.apiserver.operations import PODS, Operations, now, success
from k3s_standin.apiserver.selectors import matches_selector
from k3s_standin.controllers.budget_status import allowed_condition, with_condition
from k3s_standin.controllers.replicaset import pod_ready

Obj = dict[str, Any]
DENIED = "Cannot evict pod as it would violate the pod's disruption budget."
CAUSE = "DisruptionBudget"


def too_many_requests(cause: str, retry_after: int = 0) -> errors.ApiError:
    """`errors.NewTooManyRequests` with a DisruptionBudget cause; retry_after becomes Retry-After."""
    details: Obj = {"causes": [{"reason": CAUSE, "message": cause}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return errors.ApiError(429, "TooManyRequests", DENIED, details)


def can_ignore_budget(pod: Obj) -> bool:
    """`canIgnorePDB`: the pod disrupts nothing more by going."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Pending") or \
        bool(pod["metadata"].get("deletionTimestamp"))


def budgets_of(pod: Obj, budgets: list[Obj]) -> list[Obj]:
    """`getPodDisruptionBudgets`: budgets whose selector matches the pod (a missing one matches none)."""
    labels = pod["metadata"].get("labels") or {}
    return [pdb for pdb in budgets if (pdb.get("spec") or {}).get("selector") is not None
            and matches_selector(pdb["spec"]["selector"], labels)]


def unhealthy_may_go(pod: Obj, pdb: Obj) -> bool:
    """A pod that is not Ready goes without a disruption when its budget lets it."""
    if pod_ready(pod):
        return False
    status = pdb.get("status") or {}
    return (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow" or \
        status.get("currentHealthy", 0) >= status.get("desiredHealthy", 0) > 0


def decremented(pdb: Obj, pod_name: str) -> Obj:
    """`checkAndDecrement`: the budget after this eviction, or the refusal."""
    status = pdb.get("status") or {}
    name = pdb["metadata"]["name"]
    if status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
        raise too_many_requests(f"The disruption budget {name} is still being processed by the server.", 10)
    allowed = status.get("disruptionsAllowed", 0)
    if allowed < 0:
        raise errors.ApiError(403, "Forbidden", f'poddisruptionbudgets.policy "{name}" is forbidden: pdb '
                              "disruptions allowed is negative", {"name": name, "group": "policy",
                                                                  "kind": "poddisruptionbudgets"})
    if allowed == 0:
        raise too_many_requests(f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy "
                                f"pods and has {status.get('currentHealthy', 0)} currently")
    updated = copy.deepcopy(pdb)
    new_status = updated["status"]
    new_status["disruptionsAllowed"] = allowed - 1
    if allowed == 1:
        conditions = new_status.get("conditions") or []
        new_status["conditions"] = with_condition(conditions, allowed_condition(new_status, conditions))
    new_status["disruptedPods"] = {**(new_status.get("disruptedPods") or {}), pod_name: now()}
    return updated


def evict(ops: Operations, namespace: str, name: str, eviction: Any) -> Obj:
    """The eviction subresource's create; answers the success Status or raises the refusal."""
    eviction = eviction or {}
    if ((eviction.get("metadata") or {}).get("name") or name) != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options = eviction.get("deleteOptions") or {}
    dry_run = bool(options.get("dryRun"))
    budgets_resource = ops.registry.lookup("policy", "v1", "poddisruptionbudgets")
    with ops.store.lock:
        pod = ops.get(PODS, namespace, name)
        if not can_ignore_budget(pod):
            matching = budgets_of(pod, ops.list(budgets_resource, namespace)[0])
            if len(matching) > 1:
                raise errors.ApiError(500, "", "This pod has more than one PodDisruptionBudget, which the "
                                      "eviction subresource does not support.")
            if matching and not unhealthy_may_go(pod, matching[0]):
                updated = decremented(matching[0], name)
                if not dry_run:
                    ops.store.put(budgets_resource.key, updated, "MODIFIED")
        if not dry_run:
            _mark_disruption_target(ops, pod)
        ops.delete(PODS, namespace, name, options)
    return success(PODS, pod, 201)


def _mark_disruption_target(ops: Operations, pod: Obj) -> None:
    marked = copy.deepcopy(pod)
    conditions = [c for c in (marked.setdefault("status", {}).get("conditions") or [])
                  if c.get("type") != "DisruptionTarget"]
    conditions.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                       "lastTransitionTime": now(), "reason": "EvictionByEvictionAPI",
                       "message": "Eviction API: evicting"})
    marked["status"]["conditions"] = conditions
    ops.store.put(PODS.key, marked, "MODIFIED")
