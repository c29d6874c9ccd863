"""The containers of a Proxmox node (``pct list``), to resolve a Kubernetes node name to its vmid."""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase


class PctContainer(TypedDict):
    vmid: int
    status: str
    lock: str
    name: str


class PctList(FactBase[dict[str, PctContainer]]):
    """
    Containers by name from ``pct list`` (columns ``VMID Status Lock Name``; Lock is empty when
    the container is not locked, so a line has three or four fields and the name is the last).

    .. code:: python

        host.get_fact(PctList, pct_command="pct")
        {"k3s-worker-1": {"vmid": 111, "status": "running", "lock": "", "name": "k3s-worker-1"}}
    """

    default = dict

    def command(self, pct_command: str = "pct") -> str:
        return f"{shlex.quote(pct_command)} list"

    def process(self, output: list[str]) -> dict[str, PctContainer]:
        containers: dict[str, PctContainer] = {}
        for line in output[1:]:
            fields = line.split()
            if len(fields) not in (3, 4):
                continue
            container = PctContainer(
                vmid=int(fields[0]),
                status=fields[1],
                lock=fields[2] if len(fields) == 4 else "",
                name=fields[-1],
            )
            containers[container["name"]] = container
        return containers
