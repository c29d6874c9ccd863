"""
The k3s nodes a host maintenance shut down and has not brought back yet (its record, the ConfigMap
``kube-system/k3s-lxc-resilience-host-maintenance``: tasks/host_maintenance_rules.py), read through
the control node's ``k3s kubectl``.

Example:

    host.get_fact(NodesUnderMaintenance)   # {"k3s-worker-2"}
"""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase

from tasks.host_maintenance_rules import RECORD_NAME, RECORD_NAMESPACE, under_maintenance


class NodesUnderMaintenance(FactBase["set[str]"]):
    """Node names on any Proxmox node's record; empty without a record (or while the API is down:
    nothing can be told then, and repair's own limits apply)."""

    def requires_command(self) -> str:
        return "k3s"

    def command(self) -> str:
        words = ["k3s", "kubectl", "-n", RECORD_NAMESPACE, "get", "configmap", RECORD_NAME, "--ignore-not-found",
                 "-o", "json", "--request-timeout=10s"]
        return " ".join(shlex.quote(word) for word in words) + " 2>/dev/null || true"

    @staticmethod
    def default() -> set[str]:
        # pyinfra gives a fact's default, not process(), when its command prints nothing: here, no record.
        return set()

    def process(self, output: list[str]) -> set[str]:
        try:
            return under_maintenance("\n".join(output))
        except (ValueError, KeyError, TypeError):
            return set()
