"""The node watcher runs on every control node and its last run succeeded."""

from facts.node_watcher import LOG, SERVICE, TIMER


def test_watcher_timer_is_enabled(control_node, gathered):
    state = gathered.of(control_node).unit(TIMER, "UnitFileState")
    assert state == "enabled", f"{TIMER} is {state or 'not installed'} on {control_node.name}: re-run the deploy"


def test_watcher_timer_is_active(control_node, gathered):
    state = gathered.of(control_node).unit(TIMER, "ActiveState")
    assert state == "active", f"{TIMER} is {state} on {control_node.name}: systemctl start {TIMER}"


def test_watcher_last_run_succeeded(control_node, gathered):
    facts = gathered.of(control_node)
    load_state, result = facts.unit(SERVICE, "LoadState"), facts.unit(SERVICE, "Result")
    assert (load_state, result) == ("loaded", "success"), (
        f"{SERVICE} on {control_node.name} is {load_state}, last run {result}: see {LOG} and journalctl -u {SERVICE}"
    )


def test_watcher_log_is_present(control_node, gathered):
    assert gathered.of(control_node).path(LOG)["is_file"], (
        f"{LOG} is missing on {control_node.name}: the watcher has not run yet; systemctl start {SERVICE}"
    )
