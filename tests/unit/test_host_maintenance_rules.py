"""Proxmox host maintenance's decisions without I/O: refusals (quorum, Rancher's node, HAProxy on the
node), the order containers go and come back in, the record kept in the cluster, the lines."""

from __future__ import annotations

import json

from facts.maintenance_record import NodesUnderMaintenance
from tasks.host_maintenance_rules import (
    Guest,
    back_stop_line,
    can_run_rancher,
    quorum_problem,
    rancher_problem,
    ready_line,
    record_patch,
    recorded,
    refusal,
    shutdown_order,
    start_order,
    stop_line,
    under_maintenance,
    with_guest,
    without_guest,
)
from tests.unit.repair_fixtures import cluster, node

WORKER_2 = Guest("k3s-worker-2", 112, "agent")
CONTROL = Guest("k3s-control", 101, "server")
CONTROL_3 = Guest("k3s-control-3", 103, "server")
DEFAULT_LAB = cluster(node("k3s-control"), node("k3s-worker-1"), node("k3s-worker-2"))
CORDONED = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]


def test_two_of_three_servers_on_the_node_lose_the_quorum():
    assert quorum_problem(["k3s-control", "k3s-control-3"], 3) == (
        "it holds k3s-control, k3s-control-3: 2 of the 3 etcd members, and the 1 left are fewer than the quorum of 2")


def test_one_of_three_servers_keeps_the_quorum():
    assert quorum_problem(["k3s-control-2"], 3) == ""


def test_the_only_server_on_the_node_is_refused():
    assert quorum_problem(["k3s-control"], 1) == "it holds the only k3s server, k3s-control: the Kubernetes API would be down"


def test_a_node_without_servers_has_no_quorum_problem():
    assert quorum_problem([], 1) == ""


def test_the_ha_lab_node_lab_is_refused_with_the_quorum_line():
    nodes = cluster(node("k3s-control"), node("k3s-control-2"), node("k3s-control-3"), node("k3s-worker-1"),
                    node("k3s-worker-2"))
    line = refusal("lab", [CONTROL, CONTROL_3, Guest("k3s-worker-1", 111, "agent")], 3, nodes, ["haproxy"])
    assert line.startswith("host maintenance of node lab refused, nothing changed: it holds k3s-control, "
                           "k3s-control-3: 2 of the 3 etcd members")


def test_the_default_lab_node_lab2_may_go():
    assert refusal("lab2", [WORKER_2], 1, DEFAULT_LAB, []) == ""


def test_no_ready_schedulable_node_left_for_rancher_is_refused():
    nodes = cluster(node("k3s-control", taints=CORDONED), node("k3s-worker-1", ready="Unknown"), node("k3s-worker-2"))
    assert rancher_problem(["k3s-worker-2"], nodes) == (
        "no Ready, schedulable node would be left on other Proxmox nodes to run Rancher")


def test_a_node_with_only_rancher_tolerated_taints_can_run_it():
    assert can_run_rancher(node("k3s-worker-1", taints=[{"key": "cattle.io/os", "effect": "NoSchedule"}]))


def test_a_prefer_no_schedule_taint_does_not_stop_rancher():
    assert can_run_rancher(node("k3s-worker-1", taints=[{"key": "example", "effect": "PreferNoSchedule"}]))


def test_an_api_that_does_not_answer_is_refused():
    assert "does not answer" in rancher_problem(["k3s-worker-2"], None)


def test_haproxy_on_the_node_is_refused_naming_it():
    assert refusal("lab", [], 1, DEFAULT_LAB, ["haproxy"]) == (
        "host maintenance of node lab refused, nothing changed: HAProxy host haproxy is a container on it: Rancher "
        "would not be reachable (move it to another Proxmox node first)")


def test_every_reason_is_in_the_one_line():
    line = refusal("lab", [CONTROL], 1, cluster(node("k3s-control"), node("k3s-worker-2", ready="False")), ["haproxy"])
    assert "\n" not in line and line.count(";") == 2


def test_agents_go_first_and_servers_come_back_first():
    guests = [CONTROL, WORKER_2, CONTROL_3]
    assert (shutdown_order(guests), start_order(guests)) == ([WORKER_2, CONTROL, CONTROL_3], [CONTROL, CONTROL_3, WORKER_2])


def test_the_record_reads_back_what_was_written():
    patch = json.loads(record_patch("lab2", [WORKER_2, CONTROL]))
    assert recorded(json.dumps({"metadata": {"name": "x"}, **patch}), "lab2") == [WORKER_2, CONTROL]


def test_an_empty_record_removes_the_nodes_key():
    assert json.loads(record_patch("lab2", [])) == {"data": {"lab2": None}}


def test_no_configmap_and_another_nodes_key_read_as_nothing_recorded():
    other = json.dumps({"data": {"lab": json.dumps([{"node": "k3s-worker-1", "vmid": 111, "role": "agent"}])}})
    assert (recorded("", "lab2"), recorded(other, "lab2")) == ([], [])


def test_a_guest_is_recorded_once_and_taken_off_alone():
    twice = with_guest(with_guest([CONTROL], WORKER_2), WORKER_2)
    assert (twice, without_guest(twice, CONTROL)) == ([CONTROL, WORKER_2], [WORKER_2])


def test_the_ready_line_says_what_to_run_after_the_reboot():
    assert ready_line("lab2", [WORKER_2], []) == (
        "node lab2 is ready for its reboot: shut down k3s-worker-2 (vmid 112); afterwards: make host-maintenance "
        "PVE=lab2 DONE=1")


def test_the_stop_line_names_the_node_the_step_and_what_was_shut_down():
    assert stop_line("lab2", WORKER_2, "drain", "error when evicting pods", [Guest("k3s-worker-4", 114, "agent")]) == (
        "host maintenance of node lab2 stopped at k3s-worker-2 (drain: error when evicting pods); nothing else touched; "
        "shut down so far: k3s-worker-4 (vmid 114); bring them back with make host-maintenance PVE=lab2 DONE=1")


def test_the_back_stop_line_names_what_is_left():
    assert back_stop_line("lab2", WORKER_2, "back", "not back within 300s", [WORKER_2]).endswith(
        "still to bring back: k3s-worker-2 (vmid 112); fix it and run make host-maintenance PVE=lab2 DONE=1 again")


def test_every_recorded_node_is_under_maintenance_whatever_its_proxmox_node():
    record = {"data": {"lab2": json.dumps([vars(WORKER_2)]), "lab": json.dumps([vars(CONTROL)])}}
    assert under_maintenance(json.dumps(record)) == {"k3s-worker-2", "k3s-control"}


def test_no_record_is_no_node_under_maintenance_even_when_the_fact_prints_nothing():
    """pyinfra returns a fact's default() without calling process() when its command prints nothing
    (kubectl --ignore-not-found without the ConfigMap); repair tests membership in the answer."""
    assert (NodesUnderMaintenance().default(), NodesUnderMaintenance().process([])) == (set(), set())
