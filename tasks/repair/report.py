"""What a repair run found and did, and its report: one table, the exit status, the state kept
between runs (attempt counts, counters), the log file and the Prometheus textfile.

Example:

    rows = [run.rows.get(step.node, pending_row(step)) for step in run.steps]
    print(render_table(rows)); exit_status(rows, run.api_up)
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinfra import logger
from pyinfra.api import FunctionCommand, operation
from pyinfra.api.host import Host
from pyinfra.api.state import State

from tasks.files.k3s_node_watcher import prometheus_text
from tasks.repair.access import NodeAccess
from tasks.repair.plan import Cause, Observation, Step
from tasks.settings import data_error, path

EXIT_HEALTHY = 0
EXIT_REPAIRED = 10
EXIT_API_UNREACHABLE = 20
EXIT_NOT_REPAIRED = 30
# Another run (a restart, an upgrade, another repair) holds the cluster lock: nothing was done.
EXIT_LOCKED = 40


@dataclass
class Row:
    """One line of the final table."""

    node: str
    symptom: str
    cause: str
    action: str
    result: str
    seconds: float = 0.0
    repaired: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class RepairRun:
    """One repair run; ``outcome`` is set once the report step has executed."""

    cluster: str
    api_up: bool
    nodes: Mapping[str, Mapping[str, Any]]
    steps: list[Step]
    access: dict[str, NodeAccess]
    observations: dict[str, Observation]
    kept: dict[str, Any]
    state_path: Path
    only: set[str] | None = None
    rows: dict[str, Row] = field(default_factory=dict)
    acted: set[str] = field(default_factory=set)
    outcome: int | None = None

    def scope(self) -> str:
        """``all 3 nodes`` or the selected nodes' names."""
        return ", ".join(sorted(self.only)) if self.only is not None else f"all {len(self.nodes)} nodes"

    @property
    def planned_status(self) -> int:
        return exit_status([pending_row(step) for step in self.steps], self.api_up)


def pending_row(step: Step) -> Row:
    """The table row of a step before (or instead of) running it: what ``--dry`` shows."""
    cause = step.finding.cause.value
    if step.finding.unit:
        cause = f"{cause} ({step.finding.unit})"
    result = "planned" if step.act else f"reported: {step.why}"
    notes = list(step.finding.checked) if step.finding.cause is Cause.UNKNOWN else []
    if step.finding.detail and step.finding.detail not in notes:
        notes.append(step.finding.detail)
    return Row(step.node, step.symptom, cause, step.action.value, result, notes=notes)


def exit_status(rows: list[Row], api_up: bool = True) -> int:
    """0 healthy (nothing to do), 10 everything acted on is healthy again (the API included),
    20 API unreachable and not brought back, 30 at least one node not repaired (reported, failed,
    over a limit, or a dry run)."""
    if rows and all(row.repaired for row in rows):
        return EXIT_REPAIRED
    if not api_up:
        return EXIT_API_UNREACHABLE
    return EXIT_NOT_REPAIRED if rows else EXIT_HEALTHY


def record_attempts(
    attempts: Mapping[str, int], nodes: Mapping[str, Mapping[str, Any]], rows: list[Row], acted: set[str]
) -> dict[str, int]:
    """Attempts after this run: +1 for a node acted on and still NotReady, cleared once it is Ready."""
    repaired = {row.node for row in rows if row.repaired}
    # A node this run did not see (the API was down) keeps its count.
    updated = {name: count for name, count in attempts.items()
               if nodes.get(name, {}).get("ready") != "True" and name not in repaired}
    for name in acted - repaired:
        updated[name] = updated.get(name, 0) + 1
    return dict(sorted(updated.items()))


def next_state(previous: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]], rows: list[Row],
               acted: set[str]) -> dict[str, Any]:
    """The state kept between runs for one cluster: attempt counts and the counters for metrics."""
    return {
        "attempts": record_attempts(previous.get("attempts", {}), nodes, rows, acted),
        "runs_total": previous.get("runs_total", 0) + 1,
        "repaired_total": previous.get("repaired_total", 0) + sum(row.repaired for row in rows),
        "actions_total": previous.get("actions_total", 0) + len(acted),
    }


def log_lines(rows: list[Row], status: int, stamp: str) -> list[str]:
    """One ``key=value`` line per row and a summary, in the node watcher's log format."""
    def line(**fields: Any) -> str:
        return stamp + " " + " ".join(f"{key}={json.dumps(str(value)) if ' ' in str(value) else value or '-'}"
                                      for key, value in fields.items())

    lines = [line(node=row.node, symptom=row.symptom, cause=row.cause, action=row.action, result=row.result,
                  seconds=f"{row.seconds:.1f}") for row in rows]
    repaired = sum(row.repaired for row in rows)
    return lines + [line(node="-", reason="repair-summary", rows=len(rows), repaired=repaired,
                         not_repaired=len(rows) - repaired, outcome=f"exit-{status}")]


def metrics_text(state: Mapping[str, Any], rows: list[Row], status: int, now: float) -> str:
    """Prometheus textfile (node_exporter's textfile collector) for the last run and the totals."""
    metrics = [
        ("runs_total", "counter", "Repair runs.", state["runs_total"]),
        ("nodes_repaired_total", "counter", "Nodes healed or cleared of stale taints.", state["repaired_total"]),
        ("node_actions_total", "counter", "NotReady nodes acted on.", state["actions_total"]),
        ("nodes_not_repaired", "gauge", "Nodes the last run left broken or only reported.",
         sum(not row.repaired for row in rows)),
        ("last_exit_code", "gauge", "Exit status of the last run (0, 10, 20, 30).", status),
        ("last_run_timestamp_seconds", "gauge", "When the last run finished.", round(now, 3)),
    ]
    return prometheus_text("k3s_node_repair", metrics)


TABLE_COLUMNS = ("node", "symptom", "cause", "action", "result", "seconds")


def render_table(rows: list[Row]) -> str:
    """A plain-text table with a header; notes follow their row, indented."""
    cells = [list(TABLE_COLUMNS)] + [
        [row.node, row.symptom, row.cause, row.action, row.result, f"{row.seconds:.1f}"] for row in rows
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(len(TABLE_COLUMNS))]
    lines = []
    for index, line in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if index:
            lines += [f"    - {note}" for note in rows[index - 1].notes]
    return "\n".join(lines)


def log_rows(title: str, rows: list[Row]) -> None:
    logger.info(f"--> {title}:")
    for line in render_table(rows).splitlines():
        logger.info(f"    {line}")


def load_state(state_file: Path) -> dict[str, Any]:
    """Every cluster's kept state (keyed by its API URL); an unreadable file is a data error."""
    try:
        everything = json.loads(state_file.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        everything = None
    if not isinstance(everything, dict):
        raise data_error("repair_state_file", f"{state_file} is not a repair state file (a JSON object)")
    return everything


def write_atomically(target: Path, content: str) -> None:
    """Write beside the target and rename, so a reader (node_exporter) never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(content)
    temporary.replace(target)


def report(state: State, host: Host, run: RepairRun) -> bool:
    """Print the table, keep the attempt counts, set the outcome; fail unless healthy or repaired."""
    rows = [run.rows.get(step.node, pending_row(step)) for step in run.steps]
    outcome = run.outcome = exit_status(rows, run.api_up)
    if not run.api_up and not rows:
        logger.error(f"{host.print_prefix}the Kubernetes API does not answer and no control node is selected")
    elif not rows:
        logger.info(f"{host.print_prefix}healthy: {run.scope()} Ready, no stale taints; nothing changed")
    else:
        log_rows("Repair results", rows)
    keep(run, rows, outcome)
    return outcome in (EXIT_HEALTHY, EXIT_REPAIRED)


def keep(run: RepairRun, rows: list[Row], outcome: int) -> None:
    """Update the state file, and the log file and textfile when host data names them."""
    kept = next_state(run.kept, run.nodes, rows, run.acted)
    everything = load_state(run.state_path)
    everything[run.cluster] = kept
    write_atomically(run.state_path, json.dumps(everything, indent=1, sort_keys=True) + "\n")
    now = time.time()
    log_file = path("repair_log_file")
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("a", encoding="utf-8") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
            log.writelines(f"{line}\n" for line in log_lines(rows, outcome, stamp))
    textfile = path("repair_textfile")
    if textfile is not None:
        write_atomically(textfile, metrics_text(kept, rows, outcome, now))


@operation(is_idempotent=False)
def repair_reported(run: RepairRun) -> Generator[Any, None, None]:
    """
    Print the results table and set the outcome; fails when a node is not repaired.

    **Example:**

    .. code:: python

        repair_reported(name="Repair report", run=run)
    """
    yield FunctionCommand(report, (run,), {})
