"""The node lifecycle controller's disruption handling and NoExecute rate limit, and the taint
eviction clock, against an in-memory API (no server): what kube-controller-manager does in
pkg/controller/nodelifecycle and pkg/controller/tainteviction."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from k3s_standin.controllers import disruption, taints
from k3s_standin.controllers.disruption import Limits, TokenBucket
from k3s_standin.controllers.node_lifecycle import NodeLifecycle
from k3s_standin.controllers.taint_eviction import TaintEviction

Obj = dict[str, Any]
UNREACHABLE_NE = {"key": taints.UNREACHABLE, "effect": "NoExecute", "timeAdded": "2025-01-01T00:00:00Z"}
NOT_READY_NE = {"key": taints.NOT_READY, "effect": "NoExecute", "timeAdded": "2025-01-01T00:00:00Z"}


class FakeApi:
    """Nodes, pods and leases by path, with the client's list/get/find/mutate/delete/create."""

    def __init__(self, nodes: list[Obj], pods: list[Obj] | None = None) -> None:
        self.nodes = {node["metadata"]["name"]: node for node in nodes}
        self.pods = list(pods or [])
        self.deleted: list[str] = []

    def list(self, url: str, **_: str) -> list[Obj]:
        if url.endswith("/nodes"):
            return copy.deepcopy(list(self.nodes.values()))
        if url.endswith("/pods"):
            return copy.deepcopy(self.pods)
        return []

    def get(self, url: str) -> Obj:
        return copy.deepcopy(self.nodes[url.removesuffix("/status").rsplit("/", 1)[1]])

    def mutate(self, url: str, change: Callable[[Obj], bool]) -> Obj:
        name = url.removesuffix("/status").rsplit("/", 1)[1]
        if name in self.nodes:
            change(self.nodes[name])
        return copy.deepcopy(self.nodes.get(name, {}))

    def delete(self, url: str) -> None:
        self.deleted.append(url.rsplit("/", 1)[1])

    def create(self, url: str, body: Obj) -> Obj:
        return body

    def taints(self, name: str) -> set[tuple[str, str]]:
        return {(t["key"], t["effect"]) for t in self.nodes[name]["spec"].get("taints") or []}


def node(name: str, ready: str, node_taints: list[Obj] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": {}}, "spec": {"taints": list(node_taints or [])},
            "status": {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": "t0"}]}}


def controller(api: FakeApi, rate: float = 0.1) -> NodeLifecycle:
    return NodeLifecycle(api, grace=3600, faults_file="/nonexistent", limits=Limits(rate=rate))


def test_zone_states_follow_compute_zone_state() -> None:
    limits = Limits()
    assert [disruption.zone_state(statuses, limits) for statuses in (
        ["False", "Unknown"], ["True", "False", "False", "False"], ["True", "False", "False"])] == [
        disruption.FULL, disruption.PARTIAL, disruption.NORMAL]


def test_partial_disruption_stops_tainting_in_small_clusters_only() -> None:
    limits = Limits()
    assert (limits.zone_rate(disruption.PARTIAL, 50), limits.zone_rate(disruption.PARTIAL, 51)) == (0.0, 0.01)


def test_token_bucket_gives_one_token_per_period() -> None:
    bucket = TokenBucket(0.1, now=0.0)
    assert [bucket.try_accept(now) for now in (0.0, 5.0, 10.0, 10.5)] == [True, False, True, False]


def test_swapped_bucket_is_drained_when_the_old_one_was_empty() -> None:
    bucket = TokenBucket(0.1, now=0.0)
    bucket.try_accept(0.0)
    bucket.swap(1.0, now=0.5)
    assert [bucket.try_accept(0.5), bucket.try_accept(1.5)] == [False, True]


def test_condition_taints_come_together_with_time_added() -> None:
    api = FakeApi([node("a", "True"), node("b", "Unknown")])
    controller(api).reconcile()
    assert all(taint.get("timeAdded") for taint in api.nodes["b"]["spec"]["taints"])
    assert api.taints("b") == {(taints.UNREACHABLE, "NoSchedule"), (taints.UNREACHABLE, "NoExecute")}


def test_no_execute_tainting_is_rate_limited_per_zone() -> None:
    api = FakeApi([node("a", "True"), node("b", "True"), node("c", "Unknown"), node("d", "Unknown")])
    controller(api, rate=0.1).reconcile()
    no_execute = {name for name in "cd" if (taints.UNREACHABLE, "NoExecute") in api.taints(name)}
    assert (len(no_execute), (taints.UNREACHABLE, "NoSchedule") in api.taints("c") & api.taints("d")) == (1, True)


def test_controller_start_takes_no_execute_condition_taints_off() -> None:
    api = FakeApi([node("a", "True"), node("b", "True", [dict(UNREACHABLE_NE)]),
                   node("c", "False", [dict(NOT_READY_NE)])])
    lifecycle = controller(api, rate=0.0)
    lifecycle.reconcile()
    assert (api.taints("b"), api.taints("c")) == (set(), {(taints.NOT_READY, "NoSchedule")})


def test_full_disruption_takes_no_execute_taints_off_and_stops_tainting() -> None:
    api = FakeApi([node("a", "True"), node("b", "Unknown")])
    lifecycle = controller(api, rate=100.0)
    lifecycle.reconcile()
    api.nodes["a"]["status"]["conditions"][0]["status"] = "Unknown"
    lifecycle.reconcile()
    lifecycle.reconcile()
    assert (api.taints("a"), api.taints("b")) == ({(taints.UNREACHABLE, "NoSchedule")},
                                                  {(taints.UNREACHABLE, "NoSchedule")})


def test_leaving_full_disruption_resumes_tainting() -> None:
    api = FakeApi([node("a", "Unknown"), node("b", "Unknown")])
    lifecycle = controller(api, rate=1e9)  # a token within the microseconds between two passes
    lifecycle.reconcile()
    api.nodes["a"]["status"]["conditions"][0]["status"] = "True"
    lifecycle.reconcile()
    # The limiter swapped in on leaving is drained (SwapLimiter), so the taint comes a pass later.
    lifecycle.reconcile()
    assert (taints.UNREACHABLE, "NoExecute") in api.taints("b")


def pod_on(node_name: str, seconds: int | None) -> Obj:
    tolerations = [] if seconds is None else [{"key": taints.UNREACHABLE, "operator": "Exists",
                                               "effect": "NoExecute", "tolerationSeconds": seconds}]
    return {"metadata": {"name": f"p-{node_name}", "namespace": "default", "uid": f"u-{node_name}"},
            "spec": {"nodeName": node_name, "tolerations": tolerations}, "status": {"phase": "Running"}}


def test_eviction_clock_starts_when_the_controller_sees_the_taint() -> None:
    # The taint's timeAdded is long past: the 300 s count only from this controller's first look.
    api = FakeApi([node("b", "Unknown", [dict(UNREACHABLE_NE)])], [pod_on("b", 300)])
    TaintEviction(api).reconcile()
    assert api.deleted == []


def test_untolerated_no_execute_taint_evicts_at_once() -> None:
    api = FakeApi([node("b", "Unknown", [dict(UNREACHABLE_NE)])], [pod_on("b", None)])
    TaintEviction(api).reconcile()
    assert api.deleted == ["p-b"]


def test_eviction_is_due_toleration_seconds_after_first_sight(monkeypatch) -> None:
    api = FakeApi([node("b", "Unknown", [dict(UNREACHABLE_NE)])], [pod_on("b", 300)])
    eviction = TaintEviction(api)
    now = [1000.0]
    monkeypatch.setattr("k3s_standin.controllers.taint_eviction.time.time", lambda: now[0])
    eviction.reconcile()
    now[0] = 1299.0
    eviction.reconcile()
    before = list(api.deleted)
    now[0] = 1300.0
    eviction.reconcile()
    assert (before, api.deleted) == ([], ["p-b"])
