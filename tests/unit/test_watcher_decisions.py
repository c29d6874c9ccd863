"""Decision logic of k3s-node-watcher on recorded node JSON (k3s's Node wire format)."""

import json
from pathlib import Path

import pytest

from facts.names import WATCHED_EFFECTS, WATCHED_TAINT_KEYS
from tests.unit.watcher_script import load_watcher

FIXTURES = Path(__file__).resolve().parent / "fixtures"
watcher = load_watcher()
UNREACHABLE = [
    {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": "2024-11-25T10:01:00Z"},
    {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2024-11-25T10:01:05Z"},
]


@pytest.fixture
def nodes():
    items = json.loads((FIXTURES / "watcher_nodes_mixed.json").read_text())["items"]
    return {item["metadata"]["name"]: item for item in items}


@pytest.fixture
def healthy_nodes():
    return json.loads((FIXTURES / "watcher_nodes_healthy.json").read_text())["items"]


def test_ready_node_with_stale_taints_is_repaired(nodes):
    assert watcher.decide(nodes["k3s-worker-1"]).remove is True


def test_stale_taints_are_both_effects(nodes):
    assert watcher.decide(nodes["k3s-worker-1"]).watched == UNREACHABLE


def test_stale_taint_reason_names_the_ready_node(nodes):
    assert watcher.decide(nodes["k3s-worker-1"]).why == "stale-on-ready-node"


def test_taints_of_a_node_ready_just_now_are_left_to_the_controller(nodes):
    since = next(c["lastTransitionTime"] for c in nodes["k3s-worker-1"]["status"]["conditions"] if c["type"] == "Ready")
    just_after = watcher.calendar.timegm(watcher.time.strptime(since, "%Y-%m-%dT%H:%M:%SZ")) + 3
    decision = watcher.decide(nodes["k3s-worker-1"], now=just_after)
    assert (decision.remove, decision.why) == (False, "ready-just-now-controller-settling")


def test_patch_first_tests_the_taints_read(nodes):
    patch = watcher.taint_patch(watcher.decide(nodes["k3s-worker-1"]))
    assert patch[0] == {"op": "test", "path": "/spec/taints", "value": UNREACHABLE}


def test_patch_drops_the_taint_list_when_only_watched_taints_were_there(nodes):
    patch = watcher.taint_patch(watcher.decide(nodes["k3s-worker-1"]))
    assert patch[1] == {"op": "remove", "path": "/spec/taints"}


def test_patch_keeps_taints_the_watcher_does_not_own(nodes):
    patch = watcher.taint_patch(watcher.decide(nodes["k3s-worker-4"]))
    assert patch[1] == {"op": "replace", "path": "/spec/taints", "value": [
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "PreferNoSchedule"},
    ]}


def test_unknown_node_keeps_its_taints(nodes):
    assert watcher.decide(nodes["k3s-worker-2"]).remove is False


def test_not_ready_node_keeps_its_taints(nodes):
    assert watcher.decide(nodes["k3s-worker-3"]).remove is False


def test_not_ready_node_is_reported_with_condition_reason_and_since(nodes):
    decision = watcher.decide(nodes["k3s-worker-2"])
    assert (decision.ready, decision.reason, decision.since, decision.why) == (
        "Unknown", "NodeStatusUnknown", "2024-11-25T10:00:40Z", "node-not-ready")


def test_remove_regardless_removes_taints_from_not_ready_node(nodes):
    assert watcher.decide(nodes["k3s-worker-2"], remove_regardless=True).remove is True


def test_remove_regardless_is_named_unsafe_in_the_log_reason(nodes):
    assert watcher.decide(nodes["k3s-worker-3"], remove_regardless=True).why == "remove-regardless-unsafe"


def test_remove_regardless_does_not_touch_nodes_without_watched_taints(nodes):
    assert watcher.decide(nodes["k3s-control"], remove_regardless=True).remove is False


def test_other_taints_on_a_ready_node_are_left_alone(nodes):
    assert watcher.decide(nodes["k3s-control"]).watched == []


def test_node_without_taints_needs_nothing(healthy_nodes):
    assert [watcher.decide(node).remove for node in healthy_nodes] == [False, False]


def test_all_ready_without_repairs_is_healthy(healthy_nodes):
    assert watcher.exit_status([watcher.decide(node) for node in healthy_nodes], removed_any=False) == 0


def test_all_ready_after_repairs_is_repaired(nodes):
    decisions = [watcher.decide(nodes[name]) for name in ("k3s-control", "k3s-worker-1", "k3s-worker-4")]
    assert watcher.exit_status(decisions, removed_any=True) == 10


def test_a_not_ready_node_makes_the_run_report_it(nodes):
    assert watcher.exit_status([watcher.decide(node) for node in nodes.values()], removed_any=True) == 30


def test_repair_streak_grows_for_nodes_repaired_again():
    assert watcher.update_streaks({"k3s-worker-1": 2}, {"k3s-worker-1"}) == {"k3s-worker-1": 3}


def test_clean_run_ends_the_streak():
    assert watcher.update_streaks({"k3s-worker-1": 2}, set()) == {}


def test_alert_fires_once_when_the_streak_reaches_the_threshold():
    assert [watcher.nodes_to_alert({"w1": count}, threshold=3) for count in (2, 3, 4)] == [[], ["w1"], []]


def test_alert_threshold_zero_never_alerts():
    assert watcher.nodes_to_alert({"w1": 5}, threshold=0) == []


def test_watcher_watches_the_taints_the_deploy_names():
    assert (watcher.WATCHED_TAINT_KEYS, watcher.WATCHED_EFFECTS) == (WATCHED_TAINT_KEYS, WATCHED_EFFECTS)
