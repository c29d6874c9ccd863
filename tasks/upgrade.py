"""Rolling k3s upgrade: every node to the k3s the inventory names, one at a time, servers first, the
cluster serving throughout (k3s docs "Manual Upgrades": servers one at a time, then agents; Kubernetes
"Safely Drain a Node": cordon, evict through the eviction API, which honours PodDisruptionBudgets).

Before anything changes (a refusal is one line naming the host and the field): preflight passes on
every k3s host; the versions the nodes run now (their ``status.nodeInfo.kubeletVersion``, read once
on the first server) may step to the targets (tasks/upgrade_rules.py: one minor at a time, no
downgrade, agents never newer than servers); the Rancher and cert-manager charts the deploy installs
accept the target (their ``kubeVersion``). Then, under the cluster lock (job ``upgrade``), the first
server keeps the cluster's state (tasks/upgrade_backup.py: an etcd snapshot, or a copy of the single
server's sqlite datastore), and each node left to upgrade, in turn:

1. its HAProxy server drained (no new connections go to it), then ``k3s kubectl drain`` through the
   first server (cordon, then evictions retried while a PodDisruptionBudget forbids them, DaemonSet
   pods left, ``upgrade_drain_timeout``);
2. the binary it runs kept as ``/usr/local/bin/k3s.previous`` (for a rollback), the target's staged,
   checked by sha256 and ``k3s --version``, and moved into place (tasks/k3s_binary.py);
3. its unit restarted, the node back (tasks/node_back.py) with its kubelet at the target version,
   the deploy's unit stamp rewritten (so the next deploy restarts nothing), every etcd member healthy
   (several servers), uncordoned, its HAProxy server checked afresh and ready. A node that was
   cordoned before the upgrade (by an operator) is drained and upgraded all the same, and left
   cordoned, with a warning naming it (tasks/node_drain.py).

A node whose kubelet runs the target and whose binary is the target's is skipped, so a re-run resumes
where a run stopped; one the upgrade cordoned and a stopped run left so is finished. At the first
failure nothing else is touched: the run fails with one line naming the node, the step and the nodes
left on the old version. When every node is done, each Deployment that was rolled out before the first
drain is rolled out again (tasks/deployments_settled.py: the last node's evicted pods serve again
elsewhere), then verify runs.

Host data: ``k3s_version`` with ``k3s_binary_src`` or ``k3s_binary_url`` + ``k3s_sha256`` (the
target, as the deploy takes it), ``upgrade_drain_timeout``, ``upgrade_timeout``, ``lock_wait``.

Example:
    K3S_INVENTORY=cluster.yml pyinfra -y inventory.py upgrade.py
"""

from __future__ import annotations

import functools
import shlex
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any, cast

from pyinfra import host, inventory, logger
from pyinfra.api import FunctionCommand, StringCommand, deploy, operation
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.state import State

from connectors.proxmox_node import one_line
from facts.cluster_nodes import ClusterNodes
from facts.deployments import RolledOutDeployments
from facts.file_digests import FileDigests
from facts.preflight import PreflightReport
from inventory_schema import inventory_path
from tasks import all_hosts_reach
from tasks.cluster_lock import cluster_lock_released, cluster_lock_taken, release_for_run, still_held
from tasks.control_plane import first_server, is_ha, servers
from tasks.deployments_settled import deployments_rolled_out_again
from tasks.desired_files import DesiredFile, file_commands
from tasks.haproxy import RANCHER_BACKEND, critical_servers
from tasks.haproxy_runtime import checked_afresh, drained, set_server_state
from tasks.k3s_binary import K3S_BIN, fetch_commands
from tasks.k3s_ready import probe
from tasks.k3s_units import k3s_inputs
from tasks.node_back import pod_uids
from tasks.node_drain import StepFailed, given_back, taken_out
from tasks.preflight import preflight
from tasks.preflight_checks import blocking, evaluate
from tasks.restart import (
    cluster_verified,
    etcd_members_healthy,
    etcd_snapshot_taken,
    haproxy_servers_up_again,
    restarted_and_back,
    watcher_ran,
)
from tasks.settings import InvalidField, check_command_line_data, data_error, flag, seconds, value
from tasks.upgrade_backup import backup_time, datastore_copied, datastore_copy_path, snapshot_name
from tasks.upgrade_checks import JOB, UpgradePlan, UpgradeRefused, at_target, check_charts_fit, target_problem, upgrade_plan
from tasks.upgrade_rules import order_of, parse_k3s_version

PREVIOUS_BIN = f"{K3S_BIN}.previous"
# node name -> whether it is to be upgraded, recorded for every host while the run is prepared.
TO_UPGRADE: dict[str, bool] = {}
# Set by the first node that fails; every later node is then left as it is.
STOPPED: dict[str, str] = {}


@dataclass(frozen=True)
class NodeUpgrade:
    """One node's upgrade: its name, the target version and binary, and the unit stamp to write."""

    node: str
    target: str
    sha256: str
    stamp: DesiredFile


def keep_previous_command(target_sha256: str) -> StringCommand:
    """Copy the running binary to ``k3s.previous`` unless it already is the target (a re-run after
    the binary was replaced keeps the real previous one)."""
    return StringCommand(f'[ "$(sha256sum {K3S_BIN} | cut -d " " -f 1)" = {shlex.quote(target_sha256)} ] '
                         f"|| cp -p {K3S_BIN} {PREVIOUS_BIN}")


def version_problem(node: dict[str, Any] | None, target: str) -> str:
    """Why the Node object does not show its kubelet at ``target`` (empty when it does).

    Example:
        version_problem({"status": {"nodeInfo": {"kubeletVersion": "v1.30.8+k3s1"}}}, "v1.31.4+k3s1")
        # "its kubelet reports v1.30.8+k3s1, not v1.31.4+k3s1"
    """
    running = (((node or {}).get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion")
    if not running:
        return "its Node shows no kubeletVersion"
    if order_of(parse_k3s_version(running), parse_k3s_version(target)) != 0:
        return f"its kubelet reports {running}, not {target}"
    return ""


def left_after(order: Iterable[str], to_upgrade: dict[str, bool], failed: str, replaced: bool) -> list[str]:
    """The nodes still on the old version when ``failed`` stopped the run: it (unless its binary was
    already replaced) and every later node that was to be upgraded."""
    order = list(order)
    later = order[order.index(failed) + 1:]
    return ([] if replaced else [failed]) + [name for name in later if to_upgrade.get(name)]


def stop_line(failed: str, step: str, detail: str, left: list[str], replaced: bool) -> str:
    """The one line a stopped upgrade ends with.

    Example:
        stop_line("k3s-worker-1", "restart", "not back in 300s", ["k3s-worker-2"], True)
    """
    line = (f"upgrade stopped at {failed} ({step}: {detail}); nothing else touched; left on the old version: "
            f"{', '.join(left) or 'none'}")
    if replaced:
        line += (f"; {failed} has the new binary ({PREVIOUS_BIN} is its old one) and stays cordoned and drained "
                 "in HAProxy")
    return line


def run_commands(state: State, target: Host, commands: Iterable[Any]) -> str:
    """Run an operation's commands (shell lines, uploads) on ``target`` in order; empty when all
    succeeded, else the failed one's last error line."""
    for command in commands:
        result = (StringCommand(command) if isinstance(command, str) else command).execute(state, target, {})
        ok, output = result if isinstance(result, tuple) else (bool(result), None)
        if not ok:
            return one_line(output) if output is not None else f"{command!r} failed"
    return ""


def upgrade_steps(state: State, target: Host, upgrade: NodeUpgrade, control: Host, drain_timeout: int,
                  timeout: int, replaced: list[bool]) -> None:
    """Steps 1-3 of the module docstring; ``replaced`` becomes ``[True]`` once the new binary is in place."""
    if control not in state.active_hosts:
        raise StepFailed("before any node", f"{control.name} failed earlier (the cluster lock or the backup)")
    if not still_held():
        raise StepFailed("cluster lock", "no longer held by this run")
    drained(upgrade.node)
    taken_out(control, upgrade.node, JOB, drain_timeout)
    pods = pod_uids(probe(control, upgrade.node))
    problem = run_commands(state, target, [keep_previous_command(upgrade.sha256)])
    if problem:
        raise StepFailed(f"keep the old binary as {PREVIOUS_BIN}", problem)
    problem = run_commands(state, target, fetch_commands(upgrade.sha256))
    if problem:
        raise StepFailed("stage the new binary", problem)
    replaced[:] = [True]
    if not restarted_and_back(state, target, "service", control, pods, timeout):
        raise StepFailed("restart", f"not back within {timeout}s")
    problem = version_problem(probe(control, upgrade.node).get("node"), upgrade.target)
    if problem:
        raise StepFailed(f"Ready at {upgrade.target}", problem)
    problem = run_commands(state, target, file_commands([upgrade.stamp], {}))
    if problem:
        raise StepFailed("unit stamp", problem)
    if target.data.k3s_role == "server" and not etcd_members_healthy(timeout):
        raise StepFailed("etcd members healthy", f"not within {timeout}s")
    given_back(control, upgrade.node, JOB)
    if RANCHER_BACKEND in critical_servers() and not checked_afresh(upgrade.node, timeout):
        raise StepFailed("HAProxy checked afresh", f"{RANCHER_BACKEND}/{upgrade.node} not UP within {timeout}s")


def upgrade_node(state: State, host: Host, upgrade: NodeUpgrade, control: Host, drain_timeout: int,
                 timeout: int) -> bool:
    """FunctionCommand body: the whole upgrade of this node, or nothing when an earlier node stopped the run."""
    if STOPPED:
        logger.info(f"{host.print_prefix}not touched: the upgrade stopped at {STOPPED['node']}")
        return True
    replaced: list[bool] = []
    began = time.monotonic()
    try:
        upgrade_steps(state, host, upgrade, control, drain_timeout, timeout, replaced)
    except StepFailed as failure:
        STOPPED["node"] = upgrade.node
        left = left_after(upgrade_order_names(), TO_UPGRADE, upgrade.node, bool(replaced))
        if not replaced:
            # It still runs its old k3s, unchanged: give it back to the scheduler and HAProxy.
            try:
                given_back(control, upgrade.node, JOB)
            except StepFailed as again:
                logger.error(f"{host.print_prefix}{upgrade.node} not given back to the scheduler: {again}")
            set_server_state(upgrade.node, "state ready")
        logger.error(f"{host.print_prefix}{stop_line(upgrade.node, failure.step, failure.detail, left, bool(replaced))}")
        release_for_run(state, control)
        return False
    set_server_state(upgrade.node, "state ready")
    logger.info(f"{host.print_prefix}{upgrade.node} upgraded to {upgrade.target} in {time.monotonic() - began:.1f}s")
    return True


@operation(is_idempotent=False)
def node_upgraded(upgrade: NodeUpgrade, drain_timeout: int, timeout: int) -> Generator[Any, None, None]:
    """
    Upgrade this k3s node to ``upgrade.target`` (drain, binary, restart, back at the version,
    uncordon, HAProxy ready); nothing when it runs the target already. Call it for one node at a time.

    + upgrade: the node, its target version and sha256, and its unit stamp
    + drain_timeout: seconds ``kubectl drain`` may take
    + timeout: seconds the node may take to be back at the new version, then for etcd and HAProxy

    **Example:**

    .. code:: python

        node_upgraded(name="Upgrade k3s-worker-1", upgrade=upgrade, drain_timeout=300, timeout=300)
    """
    if not TO_UPGRADE.get(upgrade.node):
        host.noop(f"{upgrade.node} runs {upgrade.target} with binary {upgrade.sha256[:12]}")
        return
    yield FunctionCommand(upgrade_node, (upgrade, first_server(), drain_timeout, timeout), {})


def upgrade_order_names() -> list[str]:
    return cluster_plan().order


def group_names(group: str) -> list[str]:
    return [member.data.node_name for member in inventory.get_group(group, [])]


def targets() -> dict[str, str]:
    """Every k3s host's ``k3s_version``; a missing or malformed one is refused naming its host."""
    found = {}
    for member in servers() + list(inventory.get_group("k3s_workers", [])):
        target = value("k3s_version", member)
        problem = target_problem(target)
        if problem:
            raise data_error("k3s_version", problem, member)
        found[member.data.node_name] = str(target)
    return found


@functools.cache
def cluster_plan() -> UpgradePlan:
    """The plan, from the nodes as the first server's API lists them once per run."""
    try:
        return upgrade_plan(group_names("k3s_control"), group_names("k3s_workers"),
                            first_server().get_fact(ClusterNodes), targets())
    except UpgradeRefused as refused:
        raise PyinfraError(f"upgrade refused, nothing changed: {refused}") from None


def check_preflight(report: PreflightReport | None) -> None:
    """Refuse the whole upgrade while preflight would stop a k3s host (not only that host's part)."""
    failures = blocking(evaluate(report)) if report is not None else []
    if failures and not flag("preflight_continue"):
        first = failures[0]
        raise PyinfraError(f"upgrade refused, nothing changed: {host.data.node_name}: preflight {first.name}: "
                           f"{first.detail}; fix: {first.fix}")


def node_plan(report: PreflightReport | None) -> NodeUpgrade:
    """This k3s host's upgrade, its charts checked against the target and whether it is to be done recorded."""
    node, target = host.data.node_name, cluster_plan().targets[host.data.node_name]
    if host.data.k3s_role == "server":
        try:
            check_charts_fit(host.data.dict(), target)
        except InvalidField as error:
            raise data_error(error.field, error.problem) from None
    inputs = k3s_inputs(report)
    installed = host.get_fact(FileDigests, paths=[K3S_BIN]).get(K3S_BIN)
    TO_UPGRADE[node] = not at_target(node, cluster_plan(), installed["sha256"] if installed else None,
                                     inputs.binary_sha256)
    return NodeUpgrade(node, target, inputs.binary_sha256, inputs.stamp)


@deploy("Rolling k3s upgrade")
def rolling_upgrade() -> None:
    """Upgrade every k3s node to the inventory's ``k3s_version``, one at a time, then verify."""
    check_command_line_data()
    # pyinfra types a deploy's result as an operation's; preflight() returns the host's report.
    report = cast(PreflightReport | None, preflight())
    check_preflight(report)
    cluster_plan()
    role = host.data.get("k3s_role")
    upgrade = node_plan(report) if role else None
    lock_here = host == first_server()
    cluster_lock_taken(name="Cluster lock taken", job=JOB, wait=seconds("lock_wait"), takes_here=lock_here)
    # Read now, before any node is drained: the end waits for these to serve again.
    rolled_out = host.get_fact(RolledOutDeployments) if lock_here and cluster_plan().left else None
    if lock_here and cluster_plan().left:
        when = backup_time()
        if is_ha():
            etcd_snapshot_taken(name="etcd snapshot before the upgrade", snapshot=snapshot_name(when))
        else:
            datastore_copied(name="Datastore copy before the upgrade", copy=datastore_copy_path(when))
    drain_timeout, timeout = seconds("upgrade_drain_timeout"), seconds("upgrade_timeout")
    # One operation per node, in the plan's order (servers first), each followed by a point every host
    # reaches: a _serial operation runs host by host over pyinfra's active hosts, a set, so in no fixed
    # order (pyinfra/api/operations.py _run_single_op), and operations of different hosts are ordered
    # only by their place in each host's sequence (pyinfra/api/state.py get_op_order: a worker with no
    # datastore copy before its upgrade would run first). host.loop gives each position its own operation.
    for name in host.loop(cluster_plan().order):
        if upgrade and name == upgrade.node:
            node_upgraded(name=f"Upgrade {name}", upgrade=upgrade, drain_timeout=drain_timeout, timeout=timeout)
        all_hosts_reach(name=f"{name} upgraded", point=f"{name} upgraded")
    if rolled_out:
        deployments_rolled_out_again(name="Deployments rolled out again", before=rolled_out, timeout=timeout,
                                     _if=lambda: not STOPPED)
    if "haproxy" in host.groups:
        haproxy_servers_up_again(name="HAProxy servers UP again", timeout=timeout, _if=lambda: not STOPPED)
    if role == "server":
        # verify judges the watcher by its last run, which may have seen a node down mid-upgrade.
        watcher_ran(name="Node watcher run on the upgraded cluster", _if=lambda: not STOPPED)
    cluster_lock_released(name="Cluster lock released", releases_here=lock_here)
    if lock_here:
        cluster_verified(name="Verify the cluster", inventory_file=str(inventory_path()), _if=lambda: not STOPPED)
