"""The disruption controller's arithmetic (pkg/controller/disruption/disruption.go) and the eviction
subresource's decision (pkg/registry/core/pod/storage/eviction.go), without a server."""

from __future__ import annotations

import pytest

from k3s_standin.apiserver import errors
from k3s_standin.apiserver.eviction import budgets_of, can_ignore_budget, decremented, unhealthy_may_go
from k3s_standin.controllers.disruption_budget import current_healthy, expected_and_desired, scaled

RS = {"kind": "ReplicaSet", "uid": "rs-1", "controller": True}


def pod(name: str, ready: bool = True, owner: dict | None = RS, **meta) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "labels": {"app": "web"},
                         "ownerReferences": [owner] if owner else [], **meta},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]}}


def pdb(status: dict, generation: int = 1, **spec) -> dict:
    return {"metadata": {"name": "web", "namespace": "default", "generation": generation},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}, "status": status}


@pytest.mark.parametrize(("value", "total", "result"), [(3, 10, 3), ("50%", 3, 2), ("10%", 5, 1), ("0%", 4, 0)])
def test_percentages_round_up(value, total, result):
    assert scaled(value, total) == result


@pytest.mark.parametrize(("spec", "expected"), [
    ({"minAvailable": 2}, (3, 2)), ({"minAvailable": "50%"}, (4, 2)),
    ({"maxUnavailable": 1}, (4, 3)), ({"maxUnavailable": "25%"}, (4, 3)), ({"maxUnavailable": 9}, (4, 0))])
def test_expected_and_desired(spec, expected):
    pods = [pod("a"), pod("b"), pod("c")]
    assert expected_and_desired(pdb({}, **spec), pods, lambda ref: ("deploy-1", 4)) == expected


def test_terminating_and_marked_pods_are_not_healthy():
    pods = [pod("a"), pod("b", deletionTimestamp="2025-01-01T00:00:00Z"), pod("c"), pod("d", ready=False)]
    assert current_healthy(pods, {"c": "2025-01-01T00:00:00Z"}) == 1


def test_a_budget_without_selector_guards_nothing():
    assert budgets_of(pod("a"), [{"metadata": {"name": "x"}, "spec": {}}]) == []


def test_pending_or_terminating_pods_skip_the_budget():
    pending = pod("a")
    pending["status"]["phase"] = "Pending"
    assert can_ignore_budget(pending) and not can_ignore_budget(pod("b"))


def test_unready_pod_goes_when_the_budget_is_met():
    status = {"currentHealthy": 2, "desiredHealthy": 2}
    assert unhealthy_may_go(pod("a", ready=False), pdb(status))
    assert not unhealthy_may_go(pod("a"), pdb(status))
    assert unhealthy_may_go(pod("a", ready=False), pdb({"currentHealthy": 0, "desiredHealthy": 2},
                                                       unhealthyPodEvictionPolicy="AlwaysAllow"))


def test_unobserved_generation_asks_to_retry_after_10s():
    with pytest.raises(errors.ApiError) as refused:
        decremented(pdb({"observedGeneration": 1, "disruptionsAllowed": 1}, generation=2), "a")
    assert refused.value.code == 429 and refused.value.details["retryAfterSeconds"] == 10


def test_decrement_marks_the_pod_and_flips_the_condition():
    updated = decremented(pdb({"observedGeneration": 1, "disruptionsAllowed": 1, "conditions": []}), "a")
    status = updated["status"]
    assert status["disruptionsAllowed"] == 0 and "a" in status["disruptedPods"]
    assert status["conditions"][0]["reason"] == "InsufficientPods"
