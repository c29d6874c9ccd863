"""Restarts the k3s nodes, waits until each is back, then runs verify/ against the cluster.

Two modes, one node at a time in the inventory's order (control nodes first) unless ``restart_serial``
is false: ``service`` restarts the control node's ``k3s`` and then each worker's ``k3s-agent``;
``container`` reboots their containers with ``pct reboot`` on the Proxmox node, the real LXC restart
that loses ``/dev/kmsg``. A node is back when its new kubelet has posted Ready and renewed its lease
after the restart and its pods serve again (tasks/node_back.py), and then HAProxy has checked its
server afresh (tasks/haproxy_runtime.py): a leftover Ready or UP from before the restart never counts.

Host data (inventory ``data:`` or ``pyinfra ... --data key=value``): ``restart_mode``,
``restart_nodes``, ``restart_serial``, ``restart_timeout``, ``restart_verify``, ``lock_wait``; their
types, defaults and meanings are in tasks/settings.py.

The run holds the cluster lock (tasks/cluster_lock.py) from before the first restart until HAProxy's
servers are UP again, renewed in the background; a node is not restarted once the lock is no longer ours.

Several servers (embedded etcd): before any server restarts, the first server takes an etcd snapshot
(``k3s etcd-snapshot save --name pre-restart-<UTC time>``, in ``server/db/snapshots``); servers restart
one at a time, each followed by a wait until every etcd member is healthy again
(tasks/etcd_health.py); an all-at-once restart of enough servers to lose quorum is refused unless
``restart_allow_quorum_loss: true``.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import gevent
from pyinfra import host, inventory, logger
from pyinfra.api import FunctionCommand, StringCommand, deploy, operation
from pyinfra.api.host import Host
from pyinfra.api.state import State

from connectors.pct import PctConnector, default_privilege
from facts.names import K3S_UNITS
from facts.node_watcher import SERVICE as WATCHER_SERVICE
from inventory_schema import inventory_path
from tasks import all_hosts_reach, poll_until
from tasks.cluster_lock import cluster_lock_released, cluster_lock_taken, still_held
from tasks.control_plane import first_server, is_ha, quorum, quorum_lost, servers
from tasks.etcd_health import cluster_problem
from tasks.haproxy import RANCHER_BACKEND, critical_servers, wait_until_up
from tasks.haproxy_runtime import checked_afresh, drained, set_server_state
from tasks.k3s_ready import control_clock, probe, wait_until_back
from tasks.node_back import NodeRestart, pod_uids
from tasks.settings import check_command_line_data, data_error, flag, node_names, one_of, seconds
from verify.run import run_verify

POLL_SECONDS = 2


def k3s_node_names() -> list[str]:
    """Every k3s node of the inventory, control nodes first."""
    return [member.data.node_name for group in ("k3s_control", "k3s_workers") for member in inventory.get_group(group, [])]


def answering(target: Host, timeout: int) -> bool:
    """Poll until the host runs a command again: a rebooted container is up and reachable.

    Container mode only takes pct hosts, whose connection goes to the Proxmox node and outlives
    the container's reboot, so nothing is disconnected here; other hosts keep polling through
    this one (the control node) while it comes back.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok, _ = target.run_shell_command(StringCommand("true"), _timeout=30)
        if ok:
            return True
        gevent.sleep(POLL_SECONDS)
    logger.error(f"{target.print_prefix}not answering {timeout}s after its container reboot")
    return False


def reboot_container(state: State, target: Host, timeout: int) -> bool:
    """``pct reboot`` the host's container through its own connection to the Proxmox node (which
    follows a migrated container), with the sudo/su the host's operations get, then wait until it
    answers."""
    connector = target.connector
    if not isinstance(connector, PctConnector):
        raise data_error("pct_vmid", "restart_mode container needs a pct host (pct node and vmid)", target)
    connector.node.run_pct("reboot", **default_privilege(state, target))
    return answering(target, timeout)


def restart_and_wait(state: State, host: Host, mode: str, control: Host, timeout: int) -> bool:
    """Restart this node (its k3s unit or its container), wait until it is back, then until HAProxy
    has checked its server afresh.

    HAProxy sends it no new connections meanwhile (drain); the pods bound to it are noted first,
    since being back includes them serving again.
    """
    node_name = host.data.node_name
    if not still_held():
        return False
    pods = pod_uids(probe(control, node_name))
    drained(node_name)
    began = time.monotonic()
    try:
        back = restarted_and_back(state, host, mode, control, pods, timeout)
        back = back and (host.data.k3s_role != "server" or etcd_members_healthy(timeout))
        back = back and (RANCHER_BACKEND not in critical_servers() or checked_afresh(node_name, timeout))
    finally:
        set_server_state(node_name, "state ready")
    if back:
        # Each node's time, as the upgrade gives it: the bench's docs and an operator's patience read it.
        logger.info(f"{host.print_prefix}{node_name} restarted and back in {time.monotonic() - began:.1f}s")
    return back


def etcd_members_healthy(timeout: float) -> bool:
    """With several servers: wait until every etcd member is healthy (tasks/etcd_health.py), so the
    next server's restart never takes a second member of a cluster that has only a quorum left."""
    if not is_ha():
        return True
    problem = poll_until(lambda: cluster_problem(servers()), timeout, POLL_SECONDS)
    if problem:
        logger.error(f"etcd members not all healthy {timeout:.0f}s after the restart: {problem}")
    return not problem


def restarted_and_back(state: State, host: Host, mode: str, control: Host, pods: frozenset[str], timeout: int) -> bool:
    """The restart itself, then the wait until the node is back."""
    issued = control_clock(control, timeout)
    if issued is None:
        return False
    if mode == "container":
        if not reboot_container(state, host, timeout):
            return False
    else:
        # Both units are Type=notify: a blocking restart would wait, without a deadline, until k3s is up.
        ok, output = host.run_shell_command(StringCommand("systemctl", "restart", "--no-block", K3S_UNITS[host.data.k3s_role]))
        if not ok:
            logger.error(f"{host.print_prefix}restart failed: {output.stderr}")
            return False
    logger.info(f"{host.print_prefix}{mode} restarted; waiting until {host.data.node_name} is back")
    restart = NodeRestart(host.data.node_name, issued, pods, containers_restarted=mode == "container")
    return wait_until_back(control, restart, timeout)


@operation(is_idempotent=False)
def node_restarted(mode: str, timeout: int) -> Generator[Any, None, None]:
    """
    Restart this k3s node and wait until it is Ready with a node lease renewed after the restart.

    + mode: ``service`` (restart ``k3s``/``k3s-agent``) or ``container`` (``pct reboot``; needs pct data)
    + timeout: seconds for the node to be back

    **Example:**

    .. code:: python

        node_restarted(name="Restart k3s-worker-1", mode="container", timeout=300)
    """
    if mode == "container" and not host.data.get("pct_vmid"):
        raise data_error("pct_vmid", "restart_mode container needs a pct host (pct node and vmid)")
    control = inventory.get_group("k3s_control")[0]
    yield FunctionCommand(restart_and_wait, (mode, control, timeout), {})


@operation(is_idempotent=False)
def cluster_verified(inventory_file: str) -> Generator[Any, None, None]:
    """
    Run the verify/ suites against the inventory's cluster; fail when any check fails.

    + inventory_file: the inventory YAML verify/ reads hosts and roles from

    **Example:**

    .. code:: python

        cluster_verified(name="Verify", inventory_file="lab/inventory-ssh.yml")
    """
    yield FunctionCommand(run_verify, (inventory_file,), {})


@operation(is_idempotent=False)
def haproxy_servers_up_again(timeout: int) -> Generator[Any, None, None]:
    """
    After the restarts, wait until HAProxy's health checks see every critical server UP again.

    Its checks need ``rise`` passes after a node is back, so verify runs on a settled path.

    + timeout: seconds for the servers to be UP

    **Example:**

    .. code:: python

        haproxy_servers_up_again(name="HAProxy servers UP again", timeout=300)
    """
    yield FunctionCommand(wait_until_up, (critical_servers(), timeout), {})


@operation(is_idempotent=False)
def watcher_ran() -> Generator[Any, None, None]:
    """
    Run the node watcher once now: a run that fell into the restart found the API down and left its
    unit failed, and verify judges the watcher by its last run. Its outcome is left to verify.

    **Example:**

    .. code:: python

        watcher_ran(name="Node watcher run on the restarted cluster")
    """
    yield watcher_run_command()


def watcher_run_command() -> StringCommand:
    """One run of the node watcher now (``systemctl start`` of its oneshot unit returns when it has run)."""
    return StringCommand("systemctl", "start", WATCHER_SERVICE, "||", "true")


def check_quorum_kept(serial: bool, selected: list[str]) -> None:
    """Refuse an all-at-once restart of enough servers to lose etcd's quorum, unless allowed."""
    members = [member.data.node_name for member in servers()]
    restarted = 0 if serial else len(set(members) & set(selected))
    if quorum_lost(len(members), restarted) and not flag("restart_allow_quorum_loss"):
        raise data_error("restart_nodes", f"restarting {restarted} of {len(members)} servers at once loses etcd's "
                         f"quorum of {quorum(len(members))} (the API stops until they are back): restart them one at "
                         "a time (restart_serial: true), select fewer, or set restart_allow_quorum_loss: true")


@operation(is_idempotent=False)
def etcd_snapshot_taken(snapshot: str) -> Generator[Any, None, None]:
    """
    Take an etcd snapshot on this server (k3s's own ``etcd-snapshot save``, written to
    ``/var/lib/rancher/k3s/server/db/snapshots``) before servers are restarted.

    + snapshot: the snapshot's name; k3s adds the node name and the time

    **Example:**

    .. code:: python

        etcd_snapshot_taken(name="etcd snapshot before the restart", snapshot="pre-restart-20250101T000000Z")
    """
    yield StringCommand("k3s", "etcd-snapshot", "save", "--name", snapshot)


@deploy("Restart and verify")
def restart_and_verify() -> None:
    """Restart the selected k3s nodes (control first), wait for each, then verify the cluster."""
    check_command_line_data()
    mode = one_of("restart_mode")
    serial = flag("restart_serial")
    timeout = seconds("restart_timeout")
    chosen = node_names("restart_nodes", every=k3s_node_names())
    check_quorum_kept(serial, chosen)
    selected = host.data.get("node_name") in chosen
    role = host.data.get("k3s_role")
    lock_here = host == first_server()
    cluster_lock_taken(name="Cluster lock taken", job="restart", wait=seconds("lock_wait"), takes_here=lock_here)
    if is_ha() and lock_here and set(chosen) & {member.data.node_name for member in servers()}:
        etcd_snapshot_taken(name="etcd snapshot before the restart",
                            snapshot=time.strftime("pre-restart-%Y%m%dT%H%M%SZ", time.gmtime()))
    if selected and not serial:
        node_restarted(name=f"Restart k3s nodes all at once ({mode})", mode=mode, timeout=timeout)
    # One node at a time in the inventory's order, control nodes first. Not a _serial operation: that
    # runs over pyinfra's active hosts, a set, so the workers' order would be arbitrary (see the same
    # note in tasks/upgrade.py); host.loop gives each node's place its own operation.
    for name in host.loop([name for name in k3s_node_names() if name in chosen] if serial else []):
        if name == host.data.get("node_name"):
            node_restarted(name=f"Restart {name} ({mode})", mode=mode, timeout=timeout)
        all_hosts_reach(name=f"{name} restarted", point=f"{name} restarted")
    if "haproxy" in host.groups:
        haproxy_servers_up_again(name="HAProxy servers UP again", timeout=timeout)
    if role == "server":
        watcher_ran(name="Node watcher run on the restarted cluster")
    cluster_lock_released(name="Cluster lock released", releases_here=lock_here)
    if flag("restart_verify") and host == inventory.get_group("k3s_control")[0]:
        cluster_verified(name="Verify the cluster", inventory_file=str(inventory_path()))
