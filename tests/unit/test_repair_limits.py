"""Safety limits: nodes per run, the unhealthy share, attempts per node."""

from tasks.repair.plan import Limits, Observation, plan
from tests.unit.repair_fixtures import cluster, node, running

STOPPED = Observation(location="@pct/lab/111", container="stopped")
TWO_BROKEN = cluster(
    node("k3s-control"),
    node("k3s-worker-1", "Unknown", since="2024-11-25T10:02:00Z"),
    node("k3s-worker-2", "Unknown", since="2024-11-25T10:01:00Z"),
)
BOTH_STOPPED = {"k3s-worker-1": STOPPED, "k3s-worker-2": STOPPED}


def test_only_max_nodes_are_acted_on():
    steps = plan(TWO_BROKEN, BOTH_STOPPED, {}, Limits(max_nodes=1, max_unhealthy_percent=100))
    assert [(step.node, step.act) for step in steps] == [("k3s-worker-2", True), ("k3s-worker-1", False)]


def test_the_node_over_the_limit_says_why():
    steps = plan(TWO_BROKEN, BOTH_STOPPED, {}, Limits(max_nodes=1, max_unhealthy_percent=100))
    assert steps[1].why == "limit: at most 1 node(s) acted on per run"


def test_a_higher_limit_acts_on_both():
    steps = plan(TWO_BROKEN, BOTH_STOPPED, {}, Limits(max_nodes=2, max_unhealthy_percent=100))
    assert [step.act for step in steps] == [True, True]


def test_above_the_unhealthy_share_nothing_is_acted_on():
    steps = plan(TWO_BROKEN, BOTH_STOPPED, {}, Limits(max_nodes=2, max_unhealthy_percent=50))
    assert [step.act for step in steps] == [False, False]


def test_the_unhealthy_share_is_explained():
    steps = plan(TWO_BROKEN, BOTH_STOPPED, {}, Limits(max_unhealthy_percent=50))
    assert steps[0].why.startswith("2 of 3 nodes NotReady (67% > 50%): only reporting")


def test_a_single_down_node_is_never_over_the_share():
    nodes = cluster(node("k3s-control", "Unknown"))
    [step] = plan(nodes, {"k3s-control": STOPPED}, {}, Limits(max_unhealthy_percent=50))
    assert step.act is True


def test_node_out_of_attempts_is_only_reported():
    steps = plan(TWO_BROKEN, BOTH_STOPPED, {"k3s-worker-2": 3}, Limits(max_attempts=3, max_unhealthy_percent=100))
    assert [(step.node, step.act) for step in steps] == [("k3s-worker-2", False), ("k3s-worker-1", True)]


def test_node_out_of_attempts_says_why():
    steps = plan(TWO_BROKEN, BOTH_STOPPED, {"k3s-worker-2": 3}, Limits(max_attempts=3, max_unhealthy_percent=100))
    assert steps[0].why == "still NotReady after 3 repair runs: not acting again until it has been Ready"


def test_ready_nodes_services_are_never_acted_on():
    # A Ready node whose unit looks down still gets no service action: only stale taints are its business.
    nodes = cluster(node("k3s-worker-1"))
    assert plan(nodes, {"k3s-worker-1": running("unit_looping")}, {}, Limits()) == []


def test_only_the_selected_nodes_get_steps():
    steps = plan(TWO_BROKEN, BOTH_STOPPED, {}, Limits(max_unhealthy_percent=100), only={"k3s-worker-1"})
    assert [step.node for step in steps] == ["k3s-worker-1"]


def test_the_unhealthy_share_counts_nodes_outside_the_selection():
    [step] = plan(TWO_BROKEN, BOTH_STOPPED, {}, Limits(max_unhealthy_percent=50), only={"k3s-worker-1"})
    assert step.act is False


def test_a_node_under_host_maintenance_is_left_stopped_and_says_why():
    steps = plan(TWO_BROKEN, BOTH_STOPPED, {}, Limits(max_nodes=2, max_unhealthy_percent=100), held={"k3s-worker-2"})
    assert [(step.node, step.act, step.why.split(":")[0]) for step in steps] == [
        ("k3s-worker-2", False, "under host maintenance"), ("k3s-worker-1", True, "")]


def test_nodes_under_host_maintenance_do_not_count_in_the_unhealthy_share():
    # 2 of 3 NotReady is 67% > 50%; without the one under maintenance, 1 of 2 is the only broken node.
    steps = plan(TWO_BROKEN, BOTH_STOPPED, {}, Limits(max_nodes=2, max_unhealthy_percent=50), held={"k3s-worker-2"})
    assert [(step.node, step.act) for step in steps] == [("k3s-worker-2", False), ("k3s-worker-1", True)]
