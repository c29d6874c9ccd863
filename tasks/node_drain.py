"""A k3s node taken out of scheduling and given back, through ``k3s kubectl`` on a server: what the
rolling upgrade (tasks/upgrade.py) and Proxmox host maintenance (tasks/host_maintenance.py) do to
each node before they stop it (Kubernetes "Safely Drain a Node": cordon, then evict through the
eviction API, which honours PodDisruptionBudgets).

Example:
    on_control(control, drain_command("k3s-worker-2", 300), "drain", timeout=360)
    ...
    on_control(control, uncordon_command("k3s-worker-2"), "uncordon")
"""

from __future__ import annotations

from pyinfra.api import StringCommand
from pyinfra.api.host import Host

from connectors.proxmox_node import one_line


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


def uncordon_command(node: str) -> StringCommand:
    return StringCommand("k3s", "kubectl", "uncordon", node)


def on_control(control: Host, command: StringCommand, step: str, timeout: int = 60) -> None:
    """Run ``command`` on a server; :class:`StepFailed` named ``step`` with its last error line."""
    ok, output = control.run_shell_command(command, _timeout=timeout)
    if not ok:
        raise StepFailed(step, one_line(output))
