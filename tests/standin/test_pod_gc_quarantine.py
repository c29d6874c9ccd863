"""PodGC deletes a pod bound to a missing node only once the node has been missing for the quarantine
time (40 s upstream: kubernetes pkg/controller/podgc/gc_controller.go), so a pod bound to a node about
to register survives; a node that appears meanwhile ends the quarantine."""

from __future__ import annotations

from k3s_standin.controllers import pod_gc
from k3s_standin.controllers.pod_gc import PodGC


class FakeApi:
    """Pods and nodes in memory (pure logic: the controller's decisions, not the HTTP API)."""

    def __init__(self, nodes: list[str]) -> None:
        self.nodes = nodes
        self.pods = [{"metadata": {"namespace": "default", "name": "p", "uid": "u"}, "spec": {"nodeName": "n1"}}]
        self.deleted: list[str] = []

    def list(self, url: str) -> list[dict]:
        return self.pods if url.endswith("/pods") else [{"metadata": {"name": name}} for name in self.nodes]

    def delete(self, url: str, grace: int) -> None:
        self.deleted.append(url)


def test_pod_of_a_node_missing_less_than_the_quarantine_is_kept(monkeypatch):
    clock = iter([100.0, 139.0])
    monkeypatch.setattr(pod_gc.time, "monotonic", lambda: next(clock))
    api = FakeApi(nodes=[])
    gc = PodGC(api)
    gc.reconcile()
    gc.reconcile()
    assert api.deleted == []


def test_pod_of_a_node_missing_for_the_quarantine_is_force_deleted(monkeypatch):
    clock = iter([100.0, 140.0])
    monkeypatch.setattr(pod_gc.time, "monotonic", lambda: next(clock))
    api = FakeApi(nodes=[])
    gc = PodGC(api)
    gc.reconcile()
    gc.reconcile()
    assert len(api.deleted) == 1


def test_a_node_that_registers_meanwhile_ends_the_quarantine(monkeypatch):
    clock = iter([100.0, 120.0, 141.0])
    monkeypatch.setattr(pod_gc.time, "monotonic", lambda: next(clock))
    api = FakeApi(nodes=[])
    gc = PodGC(api)
    gc.reconcile()
    api.nodes = ["n1"]
    gc.reconcile()
    api.nodes = []
    gc.reconcile()
    assert api.deleted == []
