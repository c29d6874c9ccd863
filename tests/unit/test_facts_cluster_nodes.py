"""ClusterNodes.process on a recorded `kubectl get nodes -o json` list."""

import subprocess
from pathlib import Path

from facts.cluster_nodes import API_DOWN, ClusterNodes

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def nodes():
    return ClusterNodes().process((FIXTURES / "watcher_nodes_mixed.json").read_text().splitlines())


def test_every_node_is_listed_by_name():
    assert sorted(nodes()) == ["k3s-control", "k3s-worker-1", "k3s-worker-2", "k3s-worker-3", "k3s-worker-4"]


def test_unknown_node_has_reason_and_since():
    node = nodes()["k3s-worker-2"]
    assert (node["ready"], node["reason"], node["since"]) == ("Unknown", "NodeStatusUnknown", "2024-11-25T10:00:40Z")


def test_taints_are_key_and_effect():
    assert nodes()["k3s-worker-1"]["taints"] == [
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
    ]


def test_internal_ip_is_read():
    assert nodes()["k3s-worker-1"]["internal_ip"] == "10.213.0.111"


def test_api_down_is_none():
    assert ClusterNodes().process([API_DOWN]) is None


def test_lab_recording_lists_the_three_lab_nodes_ready_with_their_addresses():
    nodes = ClusterNodes().process((FIXTURES / "facts_cluster_nodes_lab.json").read_text().splitlines())
    assert {name: (node["ready"], node["internal_ip"]) for name, node in nodes.items()} == {
        "k3s-control": ("True", "10.213.0.101"),
        "k3s-worker-1": ("True", "10.213.0.111"),
        "k3s-worker-2": ("True", "10.213.0.112"),
    }


def test_partial_json_is_not_a_node_list():
    assert ClusterNodes().process(['{"items": [{"metadata":', API_DOWN]) is None


def fact_output_with_k3s(directory: Path, script: str) -> list[str]:
    """The fact's own shell line run with ``k3s`` being ``script`` (a stand-in for kubectl)."""
    fake = directory / "k3s"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    result = subprocess.run(["sh", "-c", ClusterNodes().command()], capture_output=True, text=True,
                            env={"PATH": f"{directory}:/usr/bin:/bin"})
    return result.stdout.splitlines()


def test_command_prints_json_only_when_kubectl_succeeded(tmp_path):
    """A kubectl that prints half a list and fails: only the marker."""
    assert fact_output_with_k3s(tmp_path, "printf '{\"items\": ['\nexit 1") == [API_DOWN]


def test_command_passes_a_whole_list_through(tmp_path):
    assert ClusterNodes().process(fact_output_with_k3s(tmp_path, "printf '{\"items\": []}\\n'")) == {}


def test_a_schedulable_node_has_no_cordon_owner():
    assert nodes()["k3s-worker-1"]["cordoned_by"] is None


def test_a_cordon_is_owned_by_the_job_its_mark_names_or_by_nobody_we_know():
    from facts.cluster_nodes import CORDONED_BY, cordon_owner
    marked = {"spec": {"unschedulable": True}, "metadata": {"annotations": {CORDONED_BY: "upgrade"}}}
    assert cordon_owner(marked) == "upgrade"
    assert cordon_owner({"spec": {"unschedulable": True}, "metadata": {}}) == ""
    # A mark left on a node somebody uncordoned since holds no cordon.
    assert cordon_owner({"spec": {}, "metadata": {"annotations": {CORDONED_BY: "upgrade"}}}) is None
