"""timer_units_state (the node watcher's units) on `systemctl show` output recorded in the lab's Debian
containers, as the host's ManagedState read prints them (the recording shows the timer's and the
service's properties under one marker: each unit gets them all here)."""

from pathlib import Path

from facts.managed_state import UNIT_MARKER, parse_state
from facts.systemd_timer import timer_units_state

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORDED_MARKER = "--- systemctl show"


def process(name):
    lines = (FIXTURES / name).read_text().replace(RECORDED_MARKER, UNIT_MARKER + "k3s-node-watcher.timer").splitlines()
    state = parse_state(lines)
    unit = state["units"]["k3s-node-watcher.timer"]
    return timer_units_state(state["files"], unit, unit)


def test_absent_watcher_has_no_files():
    assert process("facts_node_watcher_absent.txt")["files"] == {"/usr/local/bin/k3s-node-watcher": None}


def test_absent_watcher_timer_is_not_enabled():
    state = process("facts_node_watcher_absent.txt")
    assert (state["timer_active"], state["timer_enabled"]) == ("inactive", "")


def test_never_run_watcher_has_no_exit_status():
    assert process("facts_node_watcher_absent.txt")["last_exit_status"] is None
