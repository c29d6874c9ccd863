"""
The images a k3s node's containerd holds, as ``k3s ctr images ls -q`` lists them (fully qualified
references, ``docker.io/rancher/rancher:v2.10.1``); empty when k3s does not run there.

Example:

    host.get_fact(NodeImages)   # ("docker.io/rancher/klipper-helm:v0.9.3-build20241008", ...)
"""

from __future__ import annotations

from pyinfra.api import FactBase


class NodeImages(FactBase["tuple[str, ...]"]):
    """Returns the image references in the node's containerd (``k3s ctr images ls -q``)."""

    def requires_command(self) -> str:
        return "k3s"

    def command(self) -> str:
        return "k3s ctr images ls -q 2>/dev/null || true"

    def process(self, output: list[str]) -> tuple[str, ...]:
        return tuple(sorted({line.strip() for line in output if line.strip() and not line.startswith("sha256:")}))
