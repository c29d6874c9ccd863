"""Ensures named nodes are Ready, polling the API on a control node until a deadline; and the waits
the restart and repair flows share: the control node's clock, and "this node is back".

A node whose k3s unit this run (re)started must be back in the sense of tasks/node_back.py: its
new kubelet posted ``Ready=True`` and renewed its lease after the restart. Right after a restart
the Node object still carries the old process's ``Ready=True`` (until the node monitor grace period
runs out), and a restarted kubelet renews its lease before it posts ``Ready=False`` and only then
``Ready=True``. Every time is the control node's, read just before the restart: never this
machine's, whose clock may be skewed.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any
from weakref import WeakKeyDictionary

import gevent
from pyinfra import host, logger
from pyinfra.api import FunctionCommand, StringCommand, operation
from pyinfra.api.host import Host
from pyinfra.api.state import State
from pyinfra.context import ctx_host

from facts import cluster_reads
from facts.chart_status import node_rows
from facts.cluster_nodes import ClusterNodes
from facts.kube_reads import FAILED
from tasks.node_back import NodeRestart, clock_command, not_back_yet, parse_probe, probe_command

POLL_SECONDS = 2
# node name -> the control node's clock just before this run (re)started that node's k3s unit
RESTARTED_AT: dict[str, float] = {}
# Host -> each node's Ready status as this run last read it there (pyinfra 3 keeps no fact cache):
# one read serves every later wait whose nodes it shows Ready, as a node this run restarts is in
# RESTARTED_AT. The first read is the waiting node's one cluster read (facts.cluster_reads) when
# the run has changed nothing, else ClusterNodes.
_READY: WeakKeyDictionary[Any, dict[str, str]] = WeakKeyDictionary()
NODES_PART = "nodes"
NODES_READS = [{"section": "nodes", "read": "nodes"}]


def control_clock(control: Host, timeout: int) -> float | None:
    """Epoch seconds (with a fraction) on the control node, whose clock the API's times are
    compared against.

    Polled, since in an all-at-once restart the control node may itself be rebooting.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok, output = control.run_shell_command(clock_command(), _timeout=30)
        if ok:
            try:
                return float(output.stdout.strip())
            except ValueError:
                pass
        gevent.sleep(POLL_SECONDS)
    logger.error(f"{control.print_prefix}cannot read its clock {timeout}s after the restart")
    return None


def note_restart(state: State, host: Host) -> bool:
    """Record the first control node's clock as this node's restart moment (a FunctionCommand body,
    yielded just before the command that restarts its unit)."""
    issued = control_clock(state.inventory.get_group("k3s_control")[0], 60)
    if issued is not None:
        RESTARTED_AT[host.data.node_name] = issued
    return issued is not None


def probe(control: Host, node_name: str) -> dict:
    """The node, its lease and its pods as the API on the control node has them (see tasks/node_back)."""
    ok, output = control.run_shell_command(probe_command(node_name), _timeout=30)
    return parse_probe(output.stdout if ok else "")


def wait_until_back(control: Host, restart: NodeRestart, timeout: float, interval: float = POLL_SECONDS) -> bool:
    """Poll from the control node until the node is back (tasks/node_back) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    problem = "not probed"
    while time.monotonic() < deadline:
        problem = not_back_yet(probe(control, restart.node), restart)
        if not problem:
            return True
        gevent.sleep(interval)
    logger.error(f"node {restart.node}: not back {timeout:.0f}s after its restart: {problem}")
    return False


def wait_all_ready(state: State, host: Host, names: list[str], timeout: int, interval: int) -> bool:
    """Each node in turn, within one deadline: back since its restart, or Ready when not restarted."""
    deadline = time.monotonic() + timeout
    for name in names:
        # Not restarted by this run: any Ready post counts, so the restart moment is the epoch.
        restart = NodeRestart(name, RESTARTED_AT.get(name, 0.0))
        if not wait_until_back(host, restart, max(0.0, deadline - time.monotonic()), interval):
            _, output = host.run_shell_command(StringCommand("k3s kubectl get nodes -o wide --request-timeout=5s"))
            logger.error(f"{host.print_prefix}node {name} is not Ready after {timeout}s:\n{output.stdout}")
            return False
    return True


def shown_ready(ready: dict[str, str] | None, names: list[str]) -> bool:
    return ready is not None and all(ready.get(name) == "True" for name in names)


def ready_in(text: str) -> dict[str, str] | None:
    """Each node's Ready status from ``kube_reads``' ``nodes`` section (``name<TAB>status<TAB>taints``);
    ``None`` when the API did not answer."""
    rows = None if text.startswith(FAILED) else node_rows(text)
    return None if rows is None else {name: status for name, status, _ in rows}


def read_ready(target: Any) -> dict[str, str] | None:
    """Each node's Ready status now, from the run's cluster read when it can, else ``ClusterNodes``."""
    sections = cluster_reads.taken(target, NODES_PART)
    if sections is not None:
        return ready_in(sections.get("nodes", ""))
    nodes = target.get_fact(ClusterNodes)
    return None if nodes is None else {name: node["ready"] for name, node in nodes.items()}


def listed_ready(names: list[str]) -> bool:
    """Whether the node list on the current host shows every one of ``names`` Ready: the run's last
    read there when it does, else a fresh ``ClusterNodes``.

    Example:
        listed_ready(["k3s-control"])   # True, one read; listed_ready(["k3s-control"]) again: no read
    """
    target = ctx_host.get()
    if shown_ready(_READY.get(target), names):
        return True
    ready = read_ready(target)
    if ready is not None:
        _READY[target] = ready
    return shown_ready(ready, names)


@cluster_reads.noting(lambda names, waits_here, *_, **__: {NODES_PART: NODES_READS} if waits_here else {})
@operation()
def nodes_ready(names: list[str], waits_here: bool, timeout: int, interval: int = 2) -> Generator[Any, None, None]:
    """
    Wait until every node in ``names`` reports Ready. Call it on every host from one line: the host
    with ``waits_here`` (a control node) polls the API; on the others it is an ordering point, so
    nothing after it starts anywhere before the nodes are Ready.

    + names: Kubernetes node names
    + waits_here: this host polls (it must be a control node)
    + timeout: seconds before the operation fails naming the first node still not Ready
    + interval: seconds between polls

    **Example:**

    .. code:: python

        nodes_ready(name="Workers Ready", names=["k3s-worker-1", "k3s-worker-2"],
                    waits_here=host.data.node_name == "k3s-control", timeout=300)
    """
    if not waits_here:
        host.noop(f"a control node waits for {', '.join(names)} to be Ready")
        return
    if not any(name in RESTARTED_AT for name in names) and listed_ready(names):
        host.noop(f"nodes {', '.join(names)} are Ready")
        return
    yield FunctionCommand(wait_all_ready, (names, timeout, interval), {})
