"""The containers of a Proxmox node (``pct list``), to resolve a Kubernetes node name to its vmid."""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase

from facts.sections import split_sections


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


CONF_MARKER = "--- conf"
BOOT_CONFIG_MARKER = "--- boot config"


class PctLxcState(TypedDict):
    """Per vmid: the conf's lines and whether the container has the host's kernel config."""

    release: str
    host_has_boot_config: bool
    confs: dict[int, list[str]]
    boot_config_in_container: dict[int, bool]


class PctLxc(FactBase[PctLxcState]):
    """
    What k3s in LXC needs from the Proxmox node, for ``vmids``: each ``/etc/pve/lxc/<vmid>.conf``
    and whether ``/boot/config-$(uname -r)`` exists on the node and inside each running container.

    .. code:: python

        host.get_fact(PctLxc, vmids=[111], pct_command="pct")
        {"release": "6.8.12-4-pve", "host_has_boot_config": True,
         "confs": {111: ["arch: amd64", "hostname: k3s-worker-1", ...]},
         "boot_config_in_container": {111: False}}
    """

    def command(self, vmids: list[int], pct_command: str = "pct") -> str:
        pct = shlex.quote(pct_command)
        loops = " ".join(str(int(vmid)) for vmid in vmids)
        return (
            'rel=$(uname -r); echo "$rel"; if [ -f "/boot/config-$rel" ]; then echo yes; else echo no; fi; '
            f"for v in {loops}; do echo \"{CONF_MARKER} $v\"; cat /etc/pve/lxc/$v.conf; "
            f"echo \"{BOOT_CONFIG_MARKER} $v $({pct} exec $v -- test -f /boot/config-$rel && echo yes || echo no)\"; done"
        )

    def process(self, output: list[str]) -> PctLxcState:
        sections = split_sections(output, CONF_MARKER, BOOT_CONFIG_MARKER)
        release, host_has_boot_config = sections[""][:2]
        return PctLxcState(
            release=release,
            host_has_boot_config=host_has_boot_config == "yes",
            confs={int(marker.split()[-1]): lines for marker, lines in sections.items()
                   if marker.startswith(CONF_MARKER)},
            # "--- boot config <vmid> yes|no"
            boot_config_in_container={int(marker.split()[-2]): marker.split()[-1] == "yes"
                                      for marker in sections if marker.startswith(BOOT_CONFIG_MARKER)},
        )
