"""TimerUnits.process (the node watcher's units) on `systemctl show` output recorded in the lab's Debian containers."""

from pathlib import Path

from facts.systemd_timer import TimerUnits

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def process(name):
    return TimerUnits().process((FIXTURES / name).read_text().splitlines())


def test_absent_watcher_has_no_files():
    assert process("facts_node_watcher_absent.txt")["files"] == {"/usr/local/bin/k3s-node-watcher": None}


def test_absent_watcher_timer_is_not_enabled():
    state = process("facts_node_watcher_absent.txt")
    assert (state["timer_active"], state["timer_enabled"]) == ("inactive", "")


def test_never_run_watcher_has_no_exit_status():
    assert process("facts_node_watcher_absent.txt")["last_exit_status"] is None
