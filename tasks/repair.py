"""Repairs NotReady k3s nodes and stale taints: the steps behind ``repair.py``.

Collection (what ``--dry`` shows): on the first connected control node, list the nodes once
(``ClusterNodes``); on every Proxmox host read ``pct list``; resolve each NotReady node to where it
runs (inventory ``node_name`` or SSH hostname, else a container of that name on a Proxmox host);
read its ``pct status`` and ``NodeDiagnosis``; ``repair_plan.plan`` decides under the limits.

Execution: for each node to act on, act on the first cause, re-diagnose, act on the next (each
action once), then wait until the node is Ready with its lease renewed, then remove taints the
controller left. The last step prints one table, updates the attempt counts and sets the outcome
that ``python repair.py`` turns into its exit status (see ``repair_plan.exit_status``).

Host data (inventory ``data:`` or ``--data key=value``): the ``repair_*`` keys of ``tasks.settings``,
read on the host running the repair, else from the first control node's data (a Proxmox host runs
the repair when no control node answers, and the cluster's ``data:`` is not on Proxmox hosts).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinfra import host, inventory, logger
from pyinfra.api import FunctionCommand, StringCommand, deploy, operation
from pyinfra.api.host import Host
from pyinfra.api.state import State
from pyinfra.connectors.util import clear_askpass_cache

from connectors.pct import container_command, pct_status
from connectors.proxmox_node import one_line, pct_command_line
from facts.cluster_nodes import ClusterNode, ClusterNodes
from facts.names import KMSG_FIX
from facts.node_diagnosis import NodeDiagnosis
from facts.pct import PctContainer, PctList
from repair_plan import (
    DEPLOY_HINT,
    Action,
    Finding,
    Limits,
    Observation,
    Row,
    Step,
    api_down_nodes,
    exit_status,
    is_watched,
    log_lines,
    metrics_text,
    next_finding,
    next_state,
    pending_row,
    plan,
    render_table,
    taint_patch_json,
)
from tasks import poll_until, wait_until
from tasks.restart import control_clock, wait_until_back
from tasks.settings import check_command_line_data, data_error, node_names, path, value, whole_number

COMMAND_TIMEOUT = 60
BOOT_TIMEOUT = 120
# The node lifecycle controller lifts a node's taints on its next pass once the node is Ready.
CONTROLLER_GRACE = 20
POLL_SECONDS = 2
JOURNAL_LOGGED = 8
JOURNAL_NOTED = 3


# --- settings -----------------------------------------------------------------------------------


def limits() -> Limits:
    return Limits(
        max_nodes=whole_number("repair_max_nodes"),
        max_unhealthy_percent=whole_number("repair_max_unhealthy_percent"),
        max_attempts=whole_number("repair_max_attempts"),
    )


def selected_nodes() -> set[str] | None:
    """``repair_nodes``; ``None``: every node."""
    return set(node_names("repair_nodes")) or None


def state_file() -> Path:
    """``repair_state_file``, else in the user's cache directory (the default follows ``XDG_CACHE_HOME``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return path("repair_state_file") or Path(cache) / "k3s-lxc-resilience" / "repair-state.json"


def load_state(path: Path) -> dict[str, Any]:
    """Every cluster's kept state (keyed by its API URL); an unreadable file is a data error."""
    try:
        everything = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        everything = None
    if not isinstance(everything, dict):
        raise data_error("repair_state_file", f"{path} is not a repair state file (a JSON object)")
    return everything


def write_atomically(path: Path, content: str) -> None:
    """Write beside the target and rename, so a reader (node_exporter) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(content)
    temporary.replace(path)


# --- where a node runs, and how to reach it -------------------------------------------------------


@dataclass
class NodeAccess:
    """How to reach one Kubernetes node: its inventory host and/or its container on a Proxmox host."""

    node: str
    host: Host | None = None
    proxmox: Host | None = None
    vmid: int | None = None

    def describe(self) -> str:
        where = []
        if self.host is not None:
            where.append(self.host.name)
        if self.proxmox is not None and self.vmid is not None:
            where.append(f"vmid {self.vmid} on {self.proxmox.data.get('node_name') or self.proxmox.name}")
        return ", ".join(where)

    def pct(self, subcommand: str, *args: Any) -> StringCommand:
        assert self.proxmox is not None and self.vmid is not None
        return pct_command_line(str(self.proxmox.data.get("pct_command") or "pct"), subcommand, self.vmid, *args)

    def container_status(self) -> str:
        """``pct status`` now, or empty when the node has no known container."""
        if self.proxmox is None or self.vmid is None:
            return ""
        if not reachable(self.proxmox):
            return f"unknown ({self.proxmox.name} does not answer)"
        ok, output = self.proxmox.run_shell_command(self.pct("status"), _timeout=COMMAND_TIMEOUT)
        return pct_status(output.stdout) if ok else f"unreadable ({one_line(output)})"

    def run(self, command: str, timeout: int = COMMAND_TIMEOUT) -> tuple[bool, list[str], str]:
        """Run a shell command in the node: through its own connection when it has one, else
        ``pct exec`` on its Proxmox host. Returns success, stdout lines and a one-line error."""
        try:
            if self.host is not None and self.host.connected:
                ok, output = self.host.run_shell_command(StringCommand(command), _timeout=timeout)
            elif self.proxmox is not None and self.vmid is not None and reachable(self.proxmox):
                ok, output = self.proxmox.run_shell_command(
                    container_command(self.pct("exec"), StringCommand(command)), _timeout=timeout)
            elif self.host is not None:
                if not reachable(self.host):
                    return False, [], f"cannot connect to {self.host.name}"
                ok, output = self.host.run_shell_command(StringCommand(command), _timeout=timeout)
            else:
                return False, [], "no connection and no container to reach it through"
        except (OSError, TimeoutError) as error:
            return False, [], str(error)
        return ok, output.stdout_lines, "" if ok else one_line(output)


def reachable(member: Host) -> bool:
    """Connect a host outside ``--limit`` (or down when pyinfra connected) when it is needed."""
    if not member.connected:
        member.connect(show_errors=False)
    return member.connected


def inventory_host(node: str) -> Host | None:
    for group in ("k3s_control", "k3s_workers"):
        for member in inventory.get_group(group, []):
            if node in (member.data.get("node_name"), member.data.get("ssh_hostname"), member.name):
                return member
    return None


def proxmox_host(name: str) -> Host | None:
    for member in inventory.get_group("proxmox_hosts", []):
        if member.data.get("node_name") == name:
            return member
    return None


def resolve(node: str, containers: dict[Host, dict[str, PctContainer]]) -> NodeAccess:
    """Inventory host first (its pct data names its container), else a container named like the node."""
    member = inventory_host(node)
    if member is not None and member.data.get("pct_vmid"):
        return NodeAccess(node, member, proxmox_host(str(member.data.get("pct_node"))), int(member.data.get("pct_vmid")))
    for proxmox, by_name in containers.items():
        if node in by_name:
            return NodeAccess(node, member, proxmox, by_name[node]["vmid"])
    return NodeAccess(node, member)


def listed_status(access: NodeAccess, containers: dict[Host, dict[str, PctContainer]]) -> str:
    """The container's status in its Proxmox host's ``pct list``; empty when not listed."""
    listed = containers.get(access.proxmox, {}) if access.proxmox is not None else {}
    return next((item["status"] for item in listed.values() if item["vmid"] == access.vmid), "")


def observe(access: NodeAccess, container: str) -> Observation:
    """What the diagnosis needs: the container state and, when it runs, ``NodeDiagnosis``."""
    if access.host is None and access.proxmox is None:
        return Observation(location="")
    if container == "stopped":
        return Observation(access.describe(), container)
    fact = NodeDiagnosis()
    ok, lines, _ = access.run(fact.command())
    return Observation(access.describe(), container, fact.process(lines) if ok else None)


# --- the run: plan at collection, rows at execution ------------------------------------------------


@dataclass
class RepairRun:
    """One repair run; ``outcome`` is set once the report step has executed."""

    cluster: str
    api_up: bool
    nodes: dict[str, ClusterNode]
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


# The runs planned in this process; ``main`` reads the outcome of the last one.
RUNS: list[RepairRun] = []


def read_nodes(control: Host) -> dict[str, ClusterNode] | None:
    """``ClusterNodes``; an answer that is not a node list (an API going down mid-request) counts
    as no answer, since repair must still diagnose the control node then."""
    try:
        return control.get_fact(ClusterNodes)
    except ValueError as error:
        logger.warning(f"{control.print_prefix}node list unreadable ({error}): treating the API as down")
        return None


def survey(runner: Host) -> RepairRun:
    """Read the cluster, the Proxmox hosts and every NotReady node, and plan."""
    nodes = read_nodes(runner) if runner in inventory.get_group("k3s_control", []) else None
    containers = {
        member: member.get_fact(PctList, pct_command=str(member.data.get("pct_command") or "pct"))
        for member in inventory.get_group("proxmox_hosts", []) if reachable(member)
    }
    broken = nodes if nodes is not None else api_down_nodes(
        str(member.data.get("node_name")) for member in inventory.get_group("k3s_control", []))
    only = selected_nodes()
    access: dict[str, NodeAccess] = {}
    observations: dict[str, Observation] = {}
    for node in broken.values():
        if node["ready"] == "True" or (only is not None and node["name"] not in only):
            continue
        access[node["name"]] = resolve(node["name"], containers)
        observations[node["name"]] = observe(access[node["name"]], listed_status(access[node["name"]], containers))
    cluster = str(value("k3s_server_url", of=inventory.get_group("k3s_control")[0]) or "cluster")
    path = state_file()
    kept = load_state(path).get(cluster, {})
    steps = plan(broken, observations, kept.get("attempts", {}), limits(), only)
    return RepairRun(cluster, nodes is not None, broken, steps, access, observations, kept, path, only)


def log_rows(title: str, rows: list[Row]) -> None:
    logger.info(f"--> {title}:")
    for line in render_table(rows).splitlines():
        logger.info(f"    {line}")


# --- actions ------------------------------------------------------------------------------------


def reconnect(target: Host, timeout: int) -> bool:
    """Re-open the host's connection after its container started, as ``server.reboot`` does
    (an SSH host's old connection died with the container)."""
    clear_askpass_cache(target)
    target.disconnect()

    def problem() -> str:
        target.connect(show_errors=False)
        return "" if target.connected else "its container has started, but the host does not answer"

    return wait_until(target, problem, timeout, POLL_SECONDS, "no connection")


def start_container(access: NodeAccess, timeout: int) -> tuple[bool, str]:
    """``pct start``, then wait for the container's boot to finish and reconnect its host."""
    ok, output = access.proxmox.run_shell_command(access.pct("start"), _timeout=COMMAND_TIMEOUT)
    if not ok:
        return False, f"pct start {access.vmid} failed: {one_line(output)}"
    booted, lines, error = access.run(f"timeout {BOOT_TIMEOUT} systemctl is-system-running --wait || true",
                                      timeout=BOOT_TIMEOUT + 10)
    if access.host is not None and not reconnect(access.host, timeout):
        return False, f"started, but {access.host.name} does not answer"
    return True, f"pct start {access.vmid}: booted ({lines[-1] if booted and lines else error or 'unknown'})"


def perform(finding: Finding, access: NodeAccess, timeout: int) -> tuple[bool, str]:
    if finding.action is Action.START_CONTAINER:
        return start_container(access, timeout)
    if finding.action is Action.RECREATE_KMSG:
        ok, _, error = access.run(f"{KMSG_FIX} && test -c /dev/kmsg")
        return ok, "/dev/kmsg -> /dev/console" if ok else f"recreating /dev/kmsg failed: {error}"
    # A Type=notify k3s server blocks `systemctl restart` until it is up; the Ready wait follows anyway.
    ok, _, error = access.run(f"systemctl restart --no-block {shlex.quote(finding.unit)}")
    return ok, f"restarted {finding.unit}" if ok else f"restart of {finding.unit} failed: {error}"


def show_journal(node: str, observation: Observation, unit: str) -> list[str]:
    """Log the unit's last journal lines (they say why it stopped) and return the last few."""
    lines = (observation.diagnosis or {}).get("journal", {}).get(unit, [])
    for line in lines[-JOURNAL_LOGGED:]:
        logger.info(f"    {node} journal: {line}")
    return lines[-JOURNAL_NOTED:]


def node_taints(runner: Host, node: str) -> list[dict[str, Any]] | None:
    """The node's taints as the API has them now; ``None`` when it cannot be read."""
    ok, output = runner.run_shell_command(
        StringCommand(f"k3s kubectl get node {shlex.quote(node)} -o json --request-timeout=10s"),
        _timeout=COMMAND_TIMEOUT)
    return (json.loads(output.stdout).get("spec", {}).get("taints") or []) if ok else None


def remove_stale_taints(runner: Host, node: str, grace: int = 0) -> tuple[bool, str]:
    """Give the node lifecycle controller ``grace`` seconds to lift the taints of a node that just
    became Ready, then JSON-patch them away if the list is still the one read."""
    taints: list[dict[str, Any]] | None = None

    def still_tainted() -> str:
        nonlocal taints
        taints = node_taints(runner, node)
        return "tainted" if taints and any(is_watched(taint) for taint in taints) else ""

    poll_until(still_tainted, grace, POLL_SECONDS)
    if taints is None:
        return False, "cannot read the node's taints"
    if not any(is_watched(taint) for taint in taints):
        return True, "no stale taints left"
    ok, output = runner.run_shell_command(StringCommand(
        f"k3s kubectl patch node {shlex.quote(node)} --type=json -p {shlex.quote(taint_patch_json(taints))} "
        "--request-timeout=10s"
    ), _timeout=COMMAND_TIMEOUT)
    if ok:
        return True, "stale taints removed"
    # The test op failed: someone (usually the controller) changed the taints since they were read.
    left = node_taints(runner, node)
    if left is not None and not any(is_watched(taint) for taint in left):
        return True, "no stale taints left"
    return False, f"taint patch refused: {one_line(output)}"


def repair_node(state: State, host: Host, run: RepairRun, step: Step, timeout: int) -> bool:
    """Act on the node's causes in order, wait until it is Ready, clear leftover taints."""
    started = time.monotonic()
    row = pending_row(step)
    access = run.access[step.node]
    run.acted.add(step.node)
    # Ready counts only with a lease renewed after this point, on the control node's clock; while
    # the API was down any renewal is after it.
    began = (control_clock(host, COMMAND_TIMEOUT) or 0) if run.api_up else 0
    causes, actions, notes, done = [], [], [], []
    finding: Finding | None = step.finding
    observation: Observation | None = run.observations.get(step.node)
    while finding is not None:
        causes.append(finding.cause.value)
        if finding.action is Action.RESTART_UNIT and observation is not None:
            notes += show_journal(step.node, observation, finding.unit)
        if finding.detail == DEPLOY_HINT and DEPLOY_HINT not in notes:
            notes.append(DEPLOY_HINT)
        ok, message = perform(finding, access, timeout)
        logger.info(f"{host.print_prefix}{step.node}: {finding.cause.value}: {message}")
        actions.append(message)
        done.append(finding.action)
        if not ok:
            break
        observation = observe(access, access.container_status())
        finding = next_finding(step.node, observation, done)
    # A control node that was down is connected again by now, and its API answers there.
    poller = next((member for member in inventory.get_group("k3s_control", []) if member.connected), host)
    ready = ok and wait_until_back(poller, step.node, began, timeout)
    result = "Ready" if ready else (f"still NotReady after {timeout}s" if ok else "action failed")
    if ready:
        cleared, message = remove_stale_taints(poller, step.node, grace=CONTROLLER_GRACE)
        result = f"Ready, {message}"
        ready = cleared
    row.cause, row.action, row.result = " -> ".join(causes), "; ".join(actions), result
    row.notes, row.repaired, row.seconds = notes, bool(ready), time.monotonic() - started
    run.rows[step.node] = row
    return True


def clear_taints(state: State, host: Host, run: RepairRun, step: Step) -> bool:
    started = time.monotonic()
    row = pending_row(step)
    row.repaired, row.result = remove_stale_taints(host, step.node)
    row.seconds = time.monotonic() - started
    run.rows[step.node] = row
    return True


def report(state: State, host: Host, run: RepairRun) -> bool:
    """Print the table, keep the attempt counts, set the outcome; fail unless healthy or repaired."""
    rows = [run.rows.get(step.node, pending_row(step)) for step in run.steps]
    run.outcome = exit_status(rows, run.api_up)
    if not run.api_up and not rows:
        logger.error(f"{host.print_prefix}the Kubernetes API does not answer and no control node is selected")
    elif not rows:
        logger.info(f"{host.print_prefix}healthy: {run.scope()} Ready, no stale taints; nothing changed")
    else:
        log_rows("Repair results", rows)
    keep(run, rows)
    return run.outcome in (0, 10)


def keep(run: RepairRun, rows: list[Row]) -> None:
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
            log.writelines(f"{line}\n" for line in log_lines(rows, run.outcome, stamp))
    textfile = path("repair_textfile")
    if textfile is not None:
        write_atomically(textfile, metrics_text(kept, rows, run.outcome, now))


# --- operations -----------------------------------------------------------------------------------


@operation(is_idempotent=False)
def node_repaired(run: RepairRun, step: Step, timeout: int) -> Iterator[Any]:
    """
    Act on a NotReady node's causes in order, then wait until it is Ready (lease renewed).

    + run: from ``survey()``
    + step: a planned step with ``act`` set
    + timeout: seconds the node may take to be Ready

    **Example:**

    .. code:: python

        node_repaired(name="Repair k3s-worker-1: pct start", run=run, step=step, timeout=240)
    """
    yield FunctionCommand(repair_node, (run, step, timeout), {})


@operation(is_idempotent=False)
def stale_taints_removed(run: RepairRun, step: Step) -> Iterator[Any]:
    """
    Remove unreachable/not-ready taints from a Ready node (JSON patch with a test op).

    **Example:**

    .. code:: python

        stale_taints_removed(name="Remove stale taints from k3s-worker-2", run=run, step=step)
    """
    yield FunctionCommand(clear_taints, (run, step), {})


@operation(is_idempotent=False)
def repair_reported(run: RepairRun) -> Iterator[Any]:
    """
    Print the results table and set the outcome; fails when a node is not repaired.

    **Example:**

    .. code:: python

        repair_reported(name="Repair report", run=run)
    """
    yield FunctionCommand(report, (run,), {})


def runner() -> Host | None:
    """The first connected control node, else the first connected host (to report)."""
    active = list(inventory.iter_activated_hosts())
    for member in inventory.get_group("k3s_control", []) + active:
        if member in active:
            return member
    return None


@deploy("Repair NotReady nodes and stale taints")
def repair() -> None:
    """Plan on one host (the first connected control node), then act and report there."""
    check_command_line_data()
    if host != runner():
        return
    run = survey(host)
    RUNS.append(run)
    if not run.api_up:
        logger.warning(f"{host.print_prefix}the Kubernetes API does not answer: diagnosing the control nodes")
    if run.steps:
        log_rows("Repair plan", [pending_row(step) for step in run.steps])
    elif run.api_up:
        logger.info(f"--> Repair plan: none; {run.scope()} Ready, no stale taints")
    for step in run.steps:
        if step.finding.action is Action.RESTART_UNIT:
            show_journal(step.node, run.observations[step.node], step.finding.unit)
    timeout = whole_number("repair_ready_timeout")
    for step in run.steps:
        if step.act and step.action is Action.REMOVE_TAINTS:
            stale_taints_removed(name=f"Remove stale taints from {step.node}", run=run, step=step)
        elif step.act:
            node_repaired(name=f"Repair {step.node}: {step.action.value}", run=run, step=step, timeout=timeout)
    repair_reported(name="Repair report", run=run)


def main(argv: list[str]) -> int:
    """``python repair.py [pyinfra options]``: run pyinfra on ``inventory.py repair.py`` and exit
    0 healthy, 10 repaired, 20 API unreachable, 30 not repaired (or a plan only), 1 pyinfra failed."""
    from pyinfra_cli.main import main as pyinfra_main

    os.chdir(Path(__file__).resolve().parent.parent)
    sys.argv = ["pyinfra", *argv, "inventory.py", "repair.py"]
    try:
        pyinfra_main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    if not RUNS:
        return code or 1
    run = RUNS[-1]
    return run.outcome if run.outcome is not None else run.planned_status
