"""
Whether one Kubernetes object exists, read at its API path with the node's k3s admin credentials
(``facts.kube_reads``: one python3 run, no ``k3s kubectl`` start).

Example:

    host.get_fact(KubeObjectExists, path="/api/v1/namespaces/cattle-system/services/rancher-lb")   # False
"""

from __future__ import annotations

from pyinfra.api import FactBase

from facts import kube_reads
from facts.names import KUBE_API

SECTION = "object"


class KubeObjectExists(FactBase[bool]):
    """Returns True when the API answers the object at ``path``; False when it is absent or the API
    cannot be asked (what acts on the answer has nothing to do then)."""

    def requires_command(self, path: str) -> str:
        return "python3"

    def command(self, path: str) -> str:
        return kube_reads.command(KUBE_API, [{"read": "exists", "section": SECTION, "path": path}])

    def process(self, output: list[str]) -> bool:
        answer = [line.strip() for line in output if line.strip() and not line.startswith(kube_reads.MARK)]
        return bool(answer) and not answer[0].startswith(kube_reads.FAILED)
