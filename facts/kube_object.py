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


def exists_reads(path: str) -> list[dict[str, str]]:
    """The one read of the object at ``path`` (``facts.kube_reads``)."""
    return [{"read": "exists", "section": SECTION, "path": path}]


def answered(text: str) -> bool:
    """Whether the section's text is the object's name (not empty: absent; not an API error)."""
    return bool(text.strip()) and not text.strip().startswith(kube_reads.FAILED)


class KubeObjectExists(FactBase[bool]):
    """Returns True when the API answers the object at ``path``; False when it is absent or the API
    cannot be asked (what acts on the answer has nothing to do then)."""

    def requires_command(self, path: str) -> str:
        return "python3"

    def command(self, path: str) -> str:
        return kube_reads.command(KUBE_API, exists_reads(path))

    def process(self, output: list[str]) -> bool:
        return answered("\n".join(line for line in output if not line.startswith(kube_reads.MARK)))
