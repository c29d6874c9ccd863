"""A k3s node taken out of scheduling and given back, through ``k3s kubectl`` on a server: what the
rolling upgrade (tasks/upgrade.py) and Proxmox host maintenance (tasks/host_maintenance.py) do to
each node before they stop it (Kubernetes "Safely Drain a Node": cordon, then evict through the
eviction API, which honours PodDisruptionBudgets).

Each job gives back only the cordons it made: it marks a node it cordons (facts/cluster_nodes.py
``CORDONED_BY``), and a node that was cordoned before it came, by an operator or another job, is
drained all the same but left cordoned at the end, with a line saying so.

Example:
    taken_out(control, "k3s-worker-2", "upgrade", 300)
    ...
    given_back(control, "k3s-worker-2", "upgrade")   # "" once uncordoned
"""

from __future__ import annotations

import json

from pyinfra import logger
from pyinfra.api import StringCommand
from pyinfra.api.host import Host

from connectors.proxmox_node import one_line
from facts.cluster_nodes import CORDONED_BY, cordon_owner


class StepFailed(Exception):
    """A step on a node failed: ``step`` names it, ``detail`` is the last word on it."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail


def drain_command(node: str, timeout: int) -> StringCommand:
    """``kubectl drain`` as the Kubernetes docs run it: cordon, then evict every pod but DaemonSets'
    (emptyDir data goes with its pod), retrying an eviction a PodDisruptionBudget refuses (429) until
    ``timeout``."""
    return StringCommand("k3s", "kubectl", "drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
                         f"--timeout={timeout}s")


def mark_command(node: str, job: str) -> StringCommand:
    return StringCommand("k3s", "kubectl", "annotate", "--overwrite", "node", node, f"{CORDONED_BY}={job}")


def give_back_command(node: str, marked: bool) -> StringCommand:
    """Uncordon, and take the mark off when there is one (``kubectl annotate KEY-`` of a missing key fails)."""
    unmark = ["&&", "k3s", "kubectl", "annotate", "node", node, f"{CORDONED_BY}-"] if marked else []
    return StringCommand("k3s", "kubectl", "uncordon", node, *unmark)


def node_object(control: Host, node: str) -> dict:
    """The Node as the API on ``control`` has it; :class:`StepFailed` ("read the node") when it does not answer."""
    ok, output = control.run_shell_command(
        StringCommand("k3s", "kubectl", "get", "node", node, "-o", "json", "--request-timeout=10s"), _timeout=30)
    if not ok:
        raise StepFailed("read the node", one_line(output))
    return json.loads(output.stdout)


def taken_out(control: Host, node: str, job: str, timeout: int) -> None:
    """Cordon and drain ``node`` for ``job``, marking the cordon as the job's unless the node was
    cordoned already (then it keeps its owner: an operator's cordon stays an operator's)."""
    if cordon_owner(node_object(control, node)) is None:
        on_control(control, mark_command(node, job), "mark the cordon")
    on_control(control, drain_command(node, timeout), "drain", timeout=timeout + 60)


def given_back(control: Host, node: str, job: str) -> str:
    """Uncordon ``node`` when ``job`` cordoned it (or nobody did); else leave it cordoned, warn, and
    return the line that says so (empty once given back).

    Example:
        given_back(control, "k3s-worker-2", "upgrade")
        # "k3s-worker-2 left cordoned: it was cordoned before the upgrade (not by this tool)"
    """
    found = node_object(control, node)
    owner = cordon_owner(found)
    if owner not in (None, job):
        by = f"by {owner}" if owner else "not by this tool"
        kept = f"{node} left cordoned: it was cordoned before the {job} ({by})"
        logger.warning(f"{control.print_prefix}{kept}")
        return kept
    marked = CORDONED_BY in ((found.get("metadata") or {}).get("annotations") or {})
    on_control(control, give_back_command(node, marked), "uncordon")
    return ""


def on_control(control: Host, command: StringCommand, step: str, timeout: int = 60) -> None:
    """Run ``command`` on a server; :class:`StepFailed` named ``step`` with its last error line."""
    ok, output = control.run_shell_command(command, _timeout=timeout)
    if not ok:
        raise StepFailed(step, one_line(output))
