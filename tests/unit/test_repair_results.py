"""Exit status, attempt bookkeeping and the final table."""

from tasks.repair.report import (
    EXIT_API_UNREACHABLE,
    EXIT_HEALTHY,
    EXIT_NOT_REPAIRED,
    EXIT_REPAIRED,
    Row,
    exit_status,
    log_lines,
    metrics_text,
    next_state,
    record_attempts,
    render_table,
)
from tests.unit.repair_fixtures import cluster, node

HEALED = Row("k3s-worker-1", "NotReady (Unknown)", "container stopped", "pct start", "Ready", 31.0, repaired=True)
REPORTED = Row("k3s-worker-2", "NotReady (Unknown)", "container stopped", "report only", "reported: limit")


def test_nothing_to_do_is_healthy():
    assert exit_status([]) == EXIT_HEALTHY


def test_all_rows_repaired_is_repaired():
    assert exit_status([HEALED]) == EXIT_REPAIRED


def test_one_row_not_repaired_is_not_repaired():
    assert exit_status([HEALED, REPORTED]) == EXIT_NOT_REPAIRED


def test_api_down_is_its_own_status():
    assert exit_status([], api_up=False) == EXIT_API_UNREACHABLE


def test_api_down_but_control_node_repaired_is_repaired():
    assert exit_status([HEALED], api_up=False) == EXIT_REPAIRED


def test_api_down_and_control_node_not_repaired_is_api_unreachable():
    assert exit_status([REPORTED], api_up=False) == EXIT_API_UNREACHABLE


def test_failed_attempt_is_counted():
    nodes = cluster(node("k3s-worker-1", "Unknown"))
    failed = Row("k3s-worker-1", "", "", "pct start", "still NotReady")
    assert record_attempts({"k3s-worker-1": 1}, nodes, [failed], {"k3s-worker-1"}) == {"k3s-worker-1": 2}


def test_repaired_node_forgets_its_attempts():
    nodes = cluster(node("k3s-worker-1", "Unknown"))
    assert record_attempts({"k3s-worker-1": 2}, nodes, [HEALED], {"k3s-worker-1"}) == {}


def test_node_seen_ready_forgets_its_attempts():
    assert record_attempts({"k3s-worker-1": 3}, cluster(node("k3s-worker-1")), [], set()) == {}


def test_node_not_acted_on_keeps_its_attempts():
    nodes = cluster(node("k3s-worker-2", "Unknown"))
    assert record_attempts({"k3s-worker-2": 3}, nodes, [REPORTED], set()) == {"k3s-worker-2": 3}


def test_table_has_the_six_columns():
    assert render_table([HEALED]).splitlines()[0].split() == ["node", "symptom", "cause", "action", "result", "seconds"]


def test_table_row_carries_node_result_and_seconds():
    assert render_table([HEALED]).splitlines()[1].split()[-2:] == ["Ready", "31.0"]


def test_node_unseen_while_the_api_was_down_keeps_its_attempts():
    assert record_attempts({"k3s-worker-2": 2}, cluster(node("k3s-control", "Unknown")), [], set()) == {
        "k3s-worker-2": 2}


def test_state_counts_runs_repairs_and_actions():
    nodes = cluster(node("k3s-worker-1"))
    kept = next_state({"runs_total": 4, "repaired_total": 2, "actions_total": 3}, nodes, [HEALED], {"k3s-worker-1"})
    assert kept == {"attempts": {}, "runs_total": 5, "repaired_total": 3, "actions_total": 4}


def test_log_has_a_line_per_row_and_a_summary():
    lines = log_lines([HEALED, REPORTED], 30, "2024-11-25T10:05:00Z")
    assert lines[-1] == ("2024-11-25T10:05:00Z node=- reason=repair-summary rows=2 repaired=1 not_repaired=1 "
                         "outcome=exit-30")


def test_log_line_quotes_values_with_spaces():
    assert 'action="pct start"' in log_lines([HEALED], 10, "2024-11-25T10:05:00Z")[0]


def test_metrics_carry_the_totals_and_the_exit_code():
    text = metrics_text({"runs_total": 5, "repaired_total": 3, "actions_total": 4}, [HEALED, REPORTED], 30, 1.0)
    assert {"k3s_node_repair_runs_total 5", "k3s_node_repair_nodes_not_repaired 1",
            "k3s_node_repair_last_exit_code 30"} <= set(text.splitlines())
