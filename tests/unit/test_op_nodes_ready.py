"""nodes_ready: the node list read once per deploy on the control node that waits; read again only when
it did not show the nodes Ready, and not trusted for a node this run restarted."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pyinfra.context import ctx_host

from facts.cluster_nodes import ClusterNode, ClusterNodes
from facts.cluster_reads import ClusterReads, note
from tasks.k3s_ready import NODES_PART, NODES_READS, RESTARTED_AT, nodes_ready, ready_in
from tests.unit.operation_outputs import FakeHost, shown


def node(name: str, ready: str = "True") -> ClusterNode:
    return ClusterNode(name=name, internal_ip="10.0.0.1", ready=ready, reason="", since="", taints=[],
                       kubelet_version="v1.31.4+k3s1", cordoned_by=None)


class ListingHost(FakeHost):
    """Answers ClusterNodes from its node list and counts the reads."""

    def __init__(self, *answers: dict[str, ClusterNode] | None) -> None:
        super().__init__({}, {"node_name": "k3s-control"})
        self.answers = list(answers)
        self.reads = 0

    def get_fact(self, fact: type, **_: Any) -> Any:
        assert fact is ClusterNodes
        self.reads += 1
        return self.answers.pop(0)


@pytest.fixture(autouse=True)
def no_restarts_recorded() -> Iterator[None]:
    yield
    RESTARTED_AT.clear()


def waits(host: ListingHost, names: list[str]) -> list[Any]:
    with ctx_host.use(host):
        return [shown(command) for command in nodes_ready._inner(names=names, waits_here=True, timeout=60)]


def test_one_read_serves_the_control_wait_and_the_all_nodes_wait():
    host = ListingHost({"k3s-control": node("k3s-control"), "k3s-worker-1": node("k3s-worker-1")})
    assert waits(host, ["k3s-control"]) == []
    assert waits(host, ["k3s-control", "k3s-worker-1"]) == []
    assert (host.reads, host.noop_description) == (1, "nodes k3s-control, k3s-worker-1 are Ready")


def test_a_list_without_the_node_ready_is_read_again_and_waited_for():
    host = ListingHost({"k3s-control": node("k3s-control"), "k3s-worker-1": node("k3s-worker-1", "False")},
                       {"k3s-control": node("k3s-control"), "k3s-worker-1": node("k3s-worker-1", "False")})
    assert waits(host, ["k3s-control"]) == []
    assert waits(host, ["k3s-control", "k3s-worker-1"]) == [["wait_all_ready"]]
    assert host.reads == 2


def test_a_node_this_run_restarted_is_waited_for_whatever_the_list_said():
    host = ListingHost({"k3s-control": node("k3s-control"), "k3s-worker-1": node("k3s-worker-1")})
    assert waits(host, ["k3s-control"]) == []
    RESTARTED_AT["k3s-worker-1"] = 1.0
    assert waits(host, ["k3s-control", "k3s-worker-1"]) == [["wait_all_ready"]]
    assert host.reads == 1


def test_an_api_that_does_not_answer_is_waited_for_and_asked_again():
    host = ListingHost(None, {"k3s-control": node("k3s-control")})
    assert waits(host, ["k3s-control"]) == [["wait_all_ready"]]
    assert waits(host, ["k3s-control"]) == []
    assert host.reads == 2


class ClusterReadingHost(ListingHost):
    """Also answers the waiting node's one cluster read (facts.cluster_reads), as kube_reads prints nodes."""

    def __init__(self, nodes_section: str, *answers: dict[str, ClusterNode] | None) -> None:
        super().__init__(*answers)
        self.nodes_section = nodes_section

    def get_fact(self, fact: type, **arguments: Any) -> Any:
        if fact is ClusterReads:
            return {NODES_PART: {"nodes": self.nodes_section}}
        return super().get_fact(fact, **arguments)


def test_on_a_run_that_changed_nothing_the_nodes_come_with_the_cluster_read():
    host = ClusterReadingHost("k3s-control\tTrue\t\nk3s-worker-1\tTrue\t")
    with ctx_host.use(host):
        note(NODES_PART, NODES_READS)
    assert waits(host, ["k3s-control", "k3s-worker-1"]) == []
    assert host.reads == 0


def test_an_api_error_in_the_cluster_read_is_waited_for():
    host = ClusterReadingHost("Kubernetes API https://127.0.0.1:6443: [Errno 111] Connection refused")
    with ctx_host.use(host):
        note(NODES_PART, NODES_READS)
    assert waits(host, ["k3s-control"]) == [["wait_all_ready"]]


def test_the_nodes_section_gives_each_nodes_ready_status():
    taints = '[{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]'
    assert ready_in(f"k3s-control\tTrue\t\nk3s-worker-1\tUnknown\t{taints}") == \
        {"k3s-control": "True", "k3s-worker-1": "Unknown"}
