"""Repairs NotReady k3s nodes and stale taints: the steps behind ``repair.py``.

Collection (what ``--dry`` shows): on the first connected control node, list the nodes once
(``ClusterNodes``); on every Proxmox host read ``pct list``; resolve each NotReady node to where it
runs (inventory ``node_name`` or SSH hostname, else a container of that name on a Proxmox host);
read its ``pct status`` and ``NodeDiagnosis``; ``tasks.repair.plan`` decides under the limits.

Execution: for each node to act on, act on the first cause, re-diagnose, act on the next (each
action once), then wait until the node is Ready with its lease renewed, then remove taints the
controller left. The last step prints one table, updates the attempt counts and sets the outcome
that ``python repair.py`` turns into its exit status (see ``tasks.repair.report.exit_status``).

Host data (inventory ``data:`` or ``--data key=value``): the ``repair_*`` keys of ``tasks.settings``,
read on the host running the repair, else from the first control node's data (a Proxmox host runs
the repair when no control node answers, and the cluster's ``data:`` is not on Proxmox hosts).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyinfra import host, inventory, logger
from pyinfra.api import deploy
from pyinfra.api.host import Host

from facts.cluster_nodes import ClusterNode, ClusterNodes
from facts.maintenance_record import NodesUnderMaintenance
from facts.pct import PctList
from tasks.cluster_lock import cluster_lock_released
from tasks.repair.access import NodeAccess, listed_status, observe, reachable, resolve
from tasks.repair.actions import node_repaired, repair_lock_taken, show_journal, stale_taints_removed
from tasks.repair.plan import Action, Limits, Observation, api_down_nodes, plan
from tasks.repair.report import RepairRun, load_state, log_rows, pending_row, repair_reported
from tasks.settings import check_command_line_data, node_names, path, seconds, value, whole_number

CHECKOUT = Path(__file__).resolve().parents[2]


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
    state_path = state_file()
    kept = load_state(state_path).get(cluster, {})
    held = runner.get_fact(NodesUnderMaintenance) if nodes is not None else set()
    steps = plan(broken, observations, kept.get("attempts", {}), limits(), only, held=held)
    return RepairRun(cluster, nodes is not None, broken, steps, access, observations, kept, state_path, only)


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
    timeout = seconds("repair_ready_timeout")
    locks = any(step.act for step in run.steps) and run.api_up
    if locks:
        repair_lock_taken(name="Cluster lock taken", run=run)
    for step in run.steps:
        if step.act and step.action is Action.REMOVE_TAINTS:
            stale_taints_removed(name=f"Remove stale taints from {step.node}", run=run, step=step)
        elif step.act:
            node_repaired(name=f"Repair {step.node}: {step.action.value}", run=run, step=step, timeout=timeout)
    # Before the report, which fails the run when a node is not repaired: the lock is released either way.
    if locks:
        cluster_lock_released(name="Cluster lock released", releases_here=True)
    repair_reported(name="Repair report", run=run)


def main(argv: list[str]) -> int:
    """``python repair.py [pyinfra options]``: run pyinfra on ``inventory.py repair.py`` and exit
    0 healthy, 10 repaired, 20 API unreachable, 30 not repaired (or a plan only), 40 the cluster lock
    is held by another run (nothing done), 1 pyinfra failed."""
    from pyinfra_cli.main import main as pyinfra_main

    os.chdir(CHECKOUT)
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
