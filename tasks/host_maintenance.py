"""Proxmox host maintenance: a Proxmox node's k3s containers shut down cleanly before an operator
reboots it, and brought back afterwards. LXC has no live migration, so a node's reboot takes its
containers down together; this makes that a planned, one-at-a-time stop.

Which containers: the inventory's k3s hosts whose container the node's ``pct list`` shows (found as
repair finds them, tasks/repair/access.py ``resolve``: by the host's vmid on whichever Proxmox host
lists it, so a container that migrated counts where it is now). Refused before anything changes
(tasks/host_maintenance_rules.py, one line naming the node) when it would lose etcd's quorum, leave
no node to run Rancher, or when an HAProxy host is itself a container on the node.

Before (``maintenance_node=<node>``), under the cluster lock (job ``host-maintenance``), agents then
servers, each running one: recorded in the ConfigMap ``kube-system/k3s-lxc-resilience-host-maintenance``
(key: the node), drained with ``kubectl drain`` (tasks/node_drain.py: cordon, evictions honouring
PodDisruptionBudgets, DaemonSet pods left, ``maintenance_drain_timeout``), its HAProxy server drained,
then ``pct shutdown <vmid> --timeout <maintenance_shutdown_timeout>`` on the Proxmox host that lists it
and a wait until ``pct status`` says stopped. The lock is released at the end: the node is then
down only for the reboot. Everything runs from one k3s server whose container is not on that node.

After (``maintenance_done=true``): each recorded container, servers first, ``pct start``ed where it is
now (unless it runs already, e.g. ``onboot``), back (tasks/node_back.py: Ready and its lease renewed
since the start, the DaemonSet pods still bound to it running again), every etcd member healthy once
the last server is back (several servers), uncordoned (unless it was cordoned before the maintenance:
tasks/node_drain.py), its HAProxy server checked afresh and ready, then taken off the record; then
``verify/``. A failure stops the run in one line; a re-run goes on from the record.

Host data: ``maintenance_node``, ``maintenance_done``, ``maintenance_drain_timeout``,
``maintenance_shutdown_timeout``, ``maintenance_timeout``, ``lock_wait``.

Example:
    pyinfra -y inventory.py host_maintenance.py --data maintenance_node=pve2
    pyinfra -y inventory.py host_maintenance.py --data maintenance_node=pve2 --data maintenance_done=true
"""

from __future__ import annotations

import functools
import os
import shlex
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyinfra import host, inventory, logger
from pyinfra.api import FunctionCommand, StringCommand, deploy, operation
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.state import State

from connectors.pct import RUNNING
from connectors.proxmox_node import PROXMOX_GROUP, one_line
from facts.cluster_nodes import ClusterNodes
from facts.pct import PctContainer, PctList
from inventory_schema import inventory_path
from tasks import poll_until
from tasks.cluster_lock import cluster_lock_released, cluster_lock_taken, release_for_run, still_held
from tasks.control_plane import servers
from tasks.haproxy import RANCHER_BACKEND, critical_servers
from tasks.haproxy_runtime import checked_afresh, drained, set_server_state
from tasks.host_maintenance_rules import (
    RECORD_NAME,
    RECORD_NAMESPACE,
    Guest,
    back_line,
    back_stop_line,
    done_line,
    ready_line,
    record_patch,
    recorded,
    refusal,
    shutdown_order,
    start_order,
    stop_line,
    with_guest,
    without_guest,
)
from tasks.k3s_ready import control_clock, probe, wait_until_back
from tasks.node_back import NodeRestart, pod_uids
from tasks.node_drain import StepFailed, given_back, taken_out
from tasks.repair.access import COMMAND_TIMEOUT, NodeAccess, inventory_host, listing, proxmox_host, reachable, resolve
from tasks.repair.actions import start_container
from tasks.restart import cluster_verified, etcd_members_healthy, watcher_run_command
from tasks.settings import check_command_line_data, data_error, flag, required_text, seconds

# The maintenance's name for the cluster lock and on the cordons it makes (tasks/node_drain.py).
JOB = "host-maintenance"
CHECKOUT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 2
# `pct shutdown` of an HA-managed container only queues the request (as `pct start` does, see
# tasks/repair/actions.py): the wait for "stopped" gives the HA stack its rounds.
STOPPED_TIMEOUT = 120
STOPPED = "stopped"
# The run's outcome, read by main(): set by the last operation, so a run pyinfra failed reads as failed.
OUTCOME: dict[str, bool] = {}


@dataclass(frozen=True)
class Survey:
    """The node under maintenance and what is on it: the inventory's k3s containers there (with
    their ``pct list`` status), the HAProxy hosts there, and the server everything runs from."""

    pve: str
    proxmox: Host
    guests: list[Guest]
    status: dict[str, str]
    balancers_on_node: list[str]
    runner: Host | None


def pct_lists() -> dict[Host, dict[str, PctContainer]]:
    """``pct list`` of every Proxmox host that answers (as tasks/repair reads them)."""
    return {member: member.get_fact(PctList, pct_command=str(member.data.get("pct_command") or "pct"))
            for member in inventory.get_group(PROXMOX_GROUP, []) if reachable(member)}


def listed_on(proxmox: Host, containers: dict[Host, dict[str, PctContainer]], vmid: int | None,
              name: str) -> PctContainer | None:
    """The row of ``proxmox``'s ``pct list`` for this container: by vmid when the inventory gives one
    (the Proxmox host that lists it is where it is), else by name."""
    if vmid is not None:
        found = listing(vmid, proxmox, containers)
        return found[1] if found is not None and found[0] is proxmox else None
    return containers.get(proxmox, {}).get(name)


def k3s_hosts() -> list[Host]:
    return servers() + list(inventory.get_group("k3s_workers", []))


@functools.cache
def survey() -> Survey:
    """Read every Proxmox host's ``pct list`` once per run and place the inventory's containers."""
    pve = required_text("maintenance_node")
    proxmox = proxmox_host(pve)
    if proxmox is None:
        known = ", ".join(str(member.data.get("node_name")) for member in inventory.get_group(PROXMOX_GROUP, []))
        raise data_error("maintenance_node", f"{pve} is not a host of {PROXMOX_GROUP} ({known or 'none in the inventory'})")
    containers = pct_lists()
    if proxmox not in containers:
        raise PyinfraError(f"host maintenance of node {pve}: {proxmox.name} does not answer, so its pct list is unknown")
    guests, status = [], {}
    for member in k3s_hosts():
        access = resolve(member.data.node_name, containers)
        row = listed_on(proxmox, containers, access.vmid, member.data.node_name)
        if row is not None:
            guests.append(Guest(member.data.node_name, row["vmid"], str(member.data.k3s_role)))
            status[member.data.node_name] = row["status"]
    balancers = [str(member.data.get("node_name") or member.name) for member in inventory.get_group("haproxy", [])
                 if listed_on(proxmox, containers, vmid_of(member), str(member.data.get("node_name") or member.name))]
    on_node = {guest.node for guest in guests}
    runner = next((member for member in servers() if member.data.node_name not in on_node and member.connected), None)
    return Survey(pve, proxmox, guests, status, balancers, runner)


def vmid_of(member: Host) -> int | None:
    vmid = member.data.get("pct_vmid")
    return int(vmid) if vmid else None


def access_of(guest: Guest) -> NodeAccess:
    """How to reach the guest's container now: the Proxmox host whose ``pct list`` has its vmid
    (read afresh: after the reboot it may have migrated), else the node under maintenance."""
    found = listing(guest.vmid, survey().proxmox, pct_lists_now())
    return NodeAccess(guest.node, inventory_host(guest.node), found[0] if found else survey().proxmox, guest.vmid)


def pct_lists_now() -> dict[Host, dict[str, PctContainer]]:
    """``pct list`` of every Proxmox host now, bypassing pyinfra's fact cache (a run's containers move)."""
    lists: dict[Host, dict[str, PctContainer]] = {}
    for member in inventory.get_group(PROXMOX_GROUP, []):
        fact = PctList()
        ok, output = member.run_shell_command(StringCommand(fact.command(str(member.data.get("pct_command") or "pct"))),
                                              _timeout=COMMAND_TIMEOUT) if reachable(member) else (False, None)
        if ok and output is not None:
            lists[member] = fact.process(output.stdout_lines)
    return lists


# --- the record ---------------------------------------------------------------------------------


def read_record(runner: Host, pve: str) -> list[Guest]:
    """The guests recorded as shut down on ``pve`` (read on ``runner``'s API)."""
    command = StringCommand("k3s", "kubectl", "-n", RECORD_NAMESPACE, "get", "configmap", RECORD_NAME,
                            "--ignore-not-found", "-o", "json")
    ok, output = runner.run_shell_command(command, _timeout=COMMAND_TIMEOUT)
    if not ok:
        raise StepFailed("read the record", one_line(output))
    return recorded(output.stdout, pve)


def write_record(runner: Host, pve: str, guests: list[Guest]) -> None:
    """Make the record of ``pve`` list ``guests`` (the ConfigMap is created when missing)."""
    kubectl = f"k3s kubectl -n {RECORD_NAMESPACE}"
    command = StringCommand(
        f"{{ {kubectl} get configmap {RECORD_NAME} -o name >/dev/null 2>&1 || {kubectl} create configmap {RECORD_NAME}; }}"
        f" && {kubectl} patch configmap {RECORD_NAME} --type merge -p {shlex.quote(record_patch(pve, guests))}")
    ok, output = runner.run_shell_command(command, _timeout=COMMAND_TIMEOUT)
    if not ok:
        raise StepFailed("write the record", one_line(output))


# --- before the reboot --------------------------------------------------------------------------


def container_stopped(access: NodeAccess, timeout: int) -> None:
    """``pct shutdown <vmid> --timeout <timeout>`` (a clean shutdown: the container's systemd stops
    k3s), then a wait until ``pct status`` says stopped."""
    if access.proxmox is None:
        raise StepFailed("pct shutdown", "no Proxmox host lists its container")
    ok, output = access.proxmox.run_shell_command(access.pct("shutdown", "--timeout", str(timeout)),
                                                  _timeout=timeout + COMMAND_TIMEOUT)
    if not ok:
        raise StepFailed("pct shutdown", one_line(output))
    def not_stopped() -> str:
        status = access.container_status()
        return "" if status == STOPPED else status or "unknown"

    status = poll_until(not_stopped, STOPPED_TIMEOUT, POLL_SECONDS)
    if status:
        raise StepFailed("pct shutdown", f"not stopped {STOPPED_TIMEOUT}s after it (status: {status})")


def shut_down(state: State, host: Host, guest: Guest, drain_timeout: int, shutdown_timeout: int) -> bool:
    """FunctionCommand body: record, drain, HAProxy drain, shut down one guest; the stop line otherwise.

    ``host`` is the runner: pyinfra passes state and host only to a function whose parameters have
    those names (pyinfra/api/command.py ``FunctionCommand.execute``), as these three bodies need."""
    pve = survey().pve
    began = time.monotonic()
    try:
        if not still_held():
            raise StepFailed("cluster lock", "no longer held by this run")
        write_record(host, pve, with_guest(read_record(host, pve), guest))
        taken_out(host, guest.node, JOB, drain_timeout)
        drained(guest.node)
        container_stopped(access_of(guest), shutdown_timeout)
    except StepFailed as failure:
        logger.error(f"{host.print_prefix}{stop_line(pve, guest, failure.step, failure.detail, SHUT_DOWN)}")
        release_for_run(state, host)
        return False
    SHUT_DOWN.append(guest)
    logger.info(f"{host.print_prefix}{guest.node} (vmid {guest.vmid}) drained and shut down on {pve} in "
                f"{time.monotonic() - began:.1f}s")
    return True


# The guests this run shut down, in order (for the lines).
SHUT_DOWN: list[Guest] = []


@operation(is_idempotent=False)
def guest_shut_down(guest: Guest, drain_timeout: int, shutdown_timeout: int) -> Generator[Any, None, None]:
    """
    Drain this k3s node (Kubernetes and HAProxy) and shut its container down cleanly; run it on the
    server the maintenance runs from.

    + guest: the node, its vmid and role
    + drain_timeout: seconds ``kubectl drain`` may take
    + shutdown_timeout: ``pct shutdown --timeout``

    **Example:**

    .. code:: python

        guest_shut_down(name="Shut down k3s-worker-2", guest=Guest("k3s-worker-2", 112, "agent"),
                        drain_timeout=300, shutdown_timeout=120)
    """
    yield FunctionCommand(shut_down, (guest, drain_timeout, shutdown_timeout), {})


# --- after the reboot ---------------------------------------------------------------------------


def started(runner: Host, access: NodeAccess, timeout: int) -> float:
    """Start the container unless it runs already; the moment (the runner's clock) from which the
    node must be back: the epoch when it was running already (any Ready then counts)."""
    if access.container_status() == RUNNING:
        return 0.0
    issued = control_clock(runner, COMMAND_TIMEOUT)
    if issued is None:
        raise StepFailed("pct start", f"cannot read {runner.name}'s clock")
    ok, detail = start_container(access, timeout)
    if not ok:
        raise StepFailed("pct start", detail)
    return issued


def bring_back(runner: Host, guest: Guest, timeout: int, check_etcd: bool) -> None:
    """Started, back, every etcd member healthy (``check_etcd``: the last server to come back;
    before, the members still stopped are unhealthy), uncordoned, HAProxy checked afresh and ready."""
    # The pods still bound to it (DaemonSets' tolerate the node's absence) must run again, as after a reboot.
    pods = pod_uids(probe(runner, guest.node))
    issued = started(runner, access_of(guest), timeout)
    if not wait_until_back(runner, NodeRestart(guest.node, issued, pods, containers_restarted=True), timeout):
        raise StepFailed("back", f"not back within {timeout}s")
    if check_etcd and not etcd_members_healthy(timeout):
        raise StepFailed("etcd members healthy", f"not within {timeout}s")
    given_back(runner, guest.node, JOB)
    if RANCHER_BACKEND not in critical_servers():
        set_server_state(guest.node, "state ready")
    elif not checked_afresh(guest.node, timeout):
        raise StepFailed("HAProxy checked afresh", f"{RANCHER_BACKEND}/{guest.node} not UP within {timeout}s")


def brought_back(state: State, host: Host, timeout: int) -> bool:
    """FunctionCommand body: every recorded guest brought back in turn, each taken off the record."""
    pve = survey().pve
    back: list[Guest] = []
    try:
        if not still_held():
            raise StepFailed("cluster lock", "no longer held by this run")
        left = read_record(host, pve)
    except StepFailed as failure:
        logger.error(f"{host.print_prefix}host maintenance of node {pve}: {failure}")
        release_for_run(state, host)
        return False
    order = start_order(left)
    last_server = next((guest for guest in reversed(order) if guest.role == "server"), None)
    for guest in order:
        began = time.monotonic()
        try:
            bring_back(host, guest, timeout, check_etcd=guest == last_server)
            left = without_guest(left, guest)
            write_record(host, pve, left)
        except StepFailed as failure:
            logger.error(f"{host.print_prefix}{back_stop_line(pve, guest, failure.step, failure.detail, left)}")
            release_for_run(state, host)
            return False
        back.append(guest)
        logger.info(f"{host.print_prefix}{guest.node} (vmid {guest.vmid}) back and uncordoned in "
                    f"{time.monotonic() - began:.1f}s")
    logger.info(f"{host.print_prefix}{back_line(pve, back)}")
    # verify judges each server's watcher by its last run, which may have seen a node of the maintenance
    # down (restart.py and upgrade.py run it once for the same reason).
    for server in servers():
        if server in state.active_hosts:
            server.run_shell_command(watcher_run_command(), _timeout=120)
    return True


@operation(is_idempotent=False)
def guests_brought_back(timeout: int) -> Generator[Any, None, None]:
    """
    Bring back every container the record lists for the node (servers first): ``pct start`` where
    it is now, back, etcd healthy, uncordoned, HAProxy ready; run it on the maintenance's server.

    + timeout: seconds each node may take to be back, then for etcd and HAProxy

    **Example:**

    .. code:: python

        guests_brought_back(name="Bring back the containers of pve2", timeout=300)
    """
    yield FunctionCommand(brought_back, (timeout,), {})


@operation(is_idempotent=False)
def maintenance_reported(line: str) -> Generator[Any, None, None]:
    """
    The run's last line; marks the run as done for ``python host_maintenance.py``'s exit status.

    + line: what the operator reads

    **Example:**

    .. code:: python

        maintenance_reported(name="Host maintenance done", line="node pve2 is ready for its reboot: ...")
    """
    yield FunctionCommand(reported, (line,), {})


def reported(state: State, host: Host, line: str) -> bool:
    OUTCOME["done"] = True
    logger.info(f"{host.print_prefix}{line}")
    return True


# --- the run ------------------------------------------------------------------------------------


def refused_line(found: Survey) -> str:
    """The refusal for this node, read on the runner (its node list) and the survey."""
    nodes = found.runner.get_fact(ClusterNodes) if found.runner is not None else None
    return refusal(found.pve, found.guests, len(servers()), nodes, found.balancers_on_node)


def take_down(found: Survey) -> None:
    """The "before" run on the runner: refusal, lock, each running guest, lock released, the line."""
    problem = refused_line(found)
    if problem:
        raise PyinfraError(problem)
    running = [guest for guest in shutdown_order(found.guests) if found.status[guest.node] == RUNNING]
    left_stopped = [guest for guest in found.guests if guest not in running]
    cluster_lock_taken(name="Cluster lock taken", job=JOB, wait=seconds("lock_wait"), takes_here=True)
    drain_timeout, shutdown_timeout = seconds("maintenance_drain_timeout"), seconds("maintenance_shutdown_timeout")
    for guest in running:
        guest_shut_down(name=f"Drain and shut down {guest.node} (vmid {guest.vmid}) on {found.pve}", guest=guest,
                        drain_timeout=drain_timeout, shutdown_timeout=shutdown_timeout)
    cluster_lock_released(name="Cluster lock released", releases_here=True)
    maintenance_reported(name="Host maintenance done", line=ready_line(found.pve, running, left_stopped))


def bring_up(found: Survey) -> None:
    """The ``DONE=1`` run on the runner: lock, the recorded guests back, lock released, verify."""
    cluster_lock_taken(name="Cluster lock taken", job=JOB, wait=seconds("lock_wait"), takes_here=True)
    guests_brought_back(name=f"Bring back the containers of {found.pve}", timeout=seconds("maintenance_timeout"))
    cluster_lock_released(name="Cluster lock released", releases_here=True)
    cluster_verified(name="Verify the cluster", inventory_file=str(inventory_path()))
    maintenance_reported(name="Host maintenance done", line=done_line(found.pve))


@deploy("Proxmox host maintenance")
def host_maintenance() -> None:
    """Everything runs on one server off the node (the survey's runner); the other hosts do nothing."""
    check_command_line_data()
    found = survey()
    if found.runner is None:
        problem = refused_line(found) if not flag("maintenance_done") else ""
        raise PyinfraError(problem or f"host maintenance of node {found.pve}: no k3s server off that node is connected "
                                      "to run it from")
    if host != found.runner:
        return
    if flag("maintenance_done"):
        bring_up(found)
    else:
        take_down(found)


def main(argv: list[str]) -> int:
    """``python host_maintenance.py [pyinfra options]``: pyinfra on ``inventory.py host_maintenance.py``,
    exit 0 when the run got to its last line, else 1. pyinfra alone would also fail a run for the
    hosts whose containers are stopped (they cannot connect), which is what the maintenance is for."""
    from pyinfra_cli.main import main as pyinfra_main

    os.chdir(CHECKOUT)
    sys.argv = ["pyinfra", *argv, "inventory.py", "host_maintenance.py"]
    try:
        pyinfra_main()
    except SystemExit:
        pass
    return 0 if OUTCOME.get("done") else 1
