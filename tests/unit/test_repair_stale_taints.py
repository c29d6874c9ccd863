"""Ready nodes: stale unreachable/not-ready taints are removed, and nothing else is done to them."""

from tasks.repair.plan import Action, Cause, Limits, plan, taint_patch
from tests.unit.repair_fixtures import UNREACHABLE, cluster, node

CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def test_ready_node_with_stale_taints_gets_them_removed():
    [step] = plan(cluster(node("k3s-worker-2", taints=UNREACHABLE)), {}, {}, Limits())
    assert (step.finding.cause, step.action, step.act) == (Cause.STALE_TAINTS, Action.REMOVE_TAINTS, True)


def test_ready_node_without_watched_taints_gets_nothing():
    assert plan(cluster(node("k3s-control", taints=[CONTROL_PLANE])), {}, {}, Limits()) == []


def test_stale_taint_removal_is_not_limited_by_max_nodes():
    nodes = cluster(node("a", taints=UNREACHABLE), node("b", taints=UNREACHABLE))
    assert [step.act for step in plan(nodes, {}, {}, Limits(max_nodes=1))] == [True, True]


def test_symptom_names_the_taints():
    [step] = plan(cluster(node("k3s-worker-2", taints=UNREACHABLE)), {}, {}, Limits())
    assert step.symptom == "Ready with unreachable taints"


def test_patch_tests_the_list_read_before_removing():
    assert taint_patch(UNREACHABLE)[0] == {"op": "test", "path": "/spec/taints", "value": UNREACHABLE}


def test_patch_keeps_other_taints():
    assert taint_patch([CONTROL_PLANE, *UNREACHABLE])[1] == {
        "op": "replace", "path": "/spec/taints", "value": [CONTROL_PLANE]}


def test_patch_removes_the_list_when_only_watched_taints_were_there():
    assert taint_patch(UNREACHABLE)[1] == {"op": "remove", "path": "/spec/taints"}


def test_taints_of_a_node_ready_for_less_than_the_settle_time_are_left_to_the_controller():
    # 2024-11-25T10:01:00Z is 1732528860; 4 s later the controller's next pass has not come yet.
    assert plan(cluster(node("k3s-worker-2", taints=UNREACHABLE)), {}, {}, Limits(), now=1732528864.0) == []


def test_taints_still_there_after_the_settle_time_are_stale():
    [step] = plan(cluster(node("k3s-worker-2", taints=UNREACHABLE)), {}, {}, Limits(), now=1732528871.0)
    assert step.finding.cause is Cause.STALE_TAINTS
