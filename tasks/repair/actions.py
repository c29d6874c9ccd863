"""What the repair does to a node: start its container, recreate ``/dev/kmsg``, restart its k3s
unit, wait until it is Ready, remove the taints the controller left; one operation per node.

Example:

    node_repaired(name="Repair k3s-worker-1: pct start", run=run, step=step, timeout=240)
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Generator
from typing import Any

from pyinfra import inventory, logger
from pyinfra.api import FunctionCommand, StringCommand, operation
from pyinfra.api.host import Host
from pyinfra.api.state import State
from pyinfra.connectors.util import clear_askpass_cache

from connectors.pct import RUNNING
from connectors.proxmox_node import one_line
from facts.names import KMSG_FIX
from tasks import poll_until, wait_until
from tasks.cluster_lock import LEASE_SECONDS, Holder, hold, take
from tasks.k3s_ready import control_clock, wait_until_back
from tasks.node_back import NodeRestart
from tasks.repair.access import COMMAND_TIMEOUT, NodeAccess, observe
from tasks.repair.plan import (
    DEPLOY_HINT,
    Action,
    Finding,
    Observation,
    Step,
    is_watched,
    next_finding,
    taint_patch_json,
)
from tasks.repair.report import EXIT_LOCKED, RepairRun, pending_row

BOOT_TIMEOUT = 120
# `pct start` of an HA-managed container only queues the start ("Requesting HA start for CT <vmid>",
# proxmox/pve-container src/PVE/API2/LXC/Status.pm `vm_start`); the HA stack's CRM and then LRM
# start it in rounds of 10 s each (proxmox/pve-ha-manager src/PVE/HA/CRM.pm, LRM.pm).
RUNNING_TIMEOUT = 120
# The node lifecycle controller lifts a node's taints on its next pass once the node is Ready.
CONTROLLER_GRACE = 20
POLL_SECONDS = 2
JOURNAL_LOGGED = 8
JOURNAL_NOTED = 3


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
    """``pct start``, then wait until ``pct status`` says running, then for the container's boot to
    finish, and reconnect its host."""
    if access.proxmox is None:
        return False, "no Proxmox host runs its container"
    ok, output = access.proxmox.run_shell_command(access.pct("start"), _timeout=COMMAND_TIMEOUT)
    if not ok:
        return False, f"pct start {access.vmid} failed: {one_line(output)}"

    def not_running() -> str:
        state = access.container_status()
        return "" if state == RUNNING else state or "unknown"

    status = poll_until(not_running, RUNNING_TIMEOUT, POLL_SECONDS)
    if status:
        return False, (f"{access.describe()}: not running {RUNNING_TIMEOUT}s after pct start (status: {status}; "
                       "an HA-managed container is started by the HA stack: see ha-manager status)")
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
    ready = ok and wait_until_back(poller, NodeRestart(step.node, began), timeout)
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


@operation(is_idempotent=False)
def node_repaired(run: RepairRun, step: Step, timeout: int) -> Generator[Any, None, None]:
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
def stale_taints_removed(run: RepairRun, step: Step) -> Generator[Any, None, None]:
    """
    Remove unreachable/not-ready taints from a Ready node (JSON patch with a test op).

    **Example:**

    .. code:: python

        stale_taints_removed(name="Remove stale taints from k3s-worker-2", run=run, step=step)
    """
    yield FunctionCommand(clear_taints, (run, step), {})


def take_lock_or_stop(state: State, host: Host, run: RepairRun) -> bool:
    """Take the cluster lock without waiting (the timer's next run tries again); held by another run,
    fail this host before anything acts, with exit 40 and the line naming the holder. While the API is
    down there is no lock to take: repair is then what brings the control plane back."""
    holder = Holder.here("repair")
    answer = take(host, holder, LEASE_SECONDS, wait=0)
    if answer.result == "taken":
        hold(host, holder)
        return True
    logger.error(f"{host.print_prefix}{answer.line()}; repair does nothing this run")
    run.outcome = EXIT_LOCKED
    return False


@operation(is_idempotent=False)
def repair_lock_taken(run: RepairRun) -> Generator[Any, None, None]:
    """
    Take the cluster lock for this repair run before any node is acted on; the run stops (exit 40)
    when a restart, an upgrade or another repair holds it.

    + run: the planned run

    **Example:**

    .. code:: python

        repair_lock_taken(name="Cluster lock taken", run=run)
    """
    yield FunctionCommand(take_lock_or_stop, (run,), {})
