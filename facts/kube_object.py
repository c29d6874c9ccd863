"""
Whether one Kubernetes object exists, asked through the node's ``k3s kubectl``.

Example:

    host.get_fact(KubeObjectExists, namespace="cattle-system", kind="service", object_name="rancher-lb")   # False
"""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase


class KubeObjectExists(FactBase[bool]):
    """Returns True when ``kubectl get <kind> <name>`` finds the object."""

    def requires_command(self, namespace: str, kind: str, object_name: str) -> str:
        return "k3s"

    def command(self, namespace: str, kind: str, object_name: str) -> str:
        words = ["k3s", "kubectl", "-n", namespace, "get", kind, object_name, "--ignore-not-found", "-o", "name"]
        return " ".join(shlex.quote(word) for word in words) + " 2>/dev/null || true"

    def process(self, output: list[str]) -> bool:
        return any(line.strip() for line in output)
