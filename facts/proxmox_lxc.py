"""What a Proxmox node gives its k3s containers, in one command: each container's
``/etc/pve/lxc/<vmid>.conf`` and whether the node's kernel has ``overlay`` and ``br_netfilter``
(a container cannot load kernel modules itself)."""

from __future__ import annotations

from typing import TypedDict

from pyinfra.api import FactBase

CONF_MARKER = "--- conf"
MODULES_MARKER = "--- modules"


class ProxmoxLxcState(TypedDict):
    """``confs[vmid]`` is None when the node has no conf for that vmid."""

    confs: dict[int, list[str] | None]
    modules: dict[str, bool]


class ProxmoxLxc(FactBase[ProxmoxLxcState]):
    """
    The conf lines of ``vmids`` and the node's ``overlay`` / ``br_netfilter`` modules.

    .. code:: python

        host.get_fact(ProxmoxLxc, vmids=[111])
        {"confs": {111: ["arch: amd64", "lxc.apparmor.profile: unconfined", ...]},
         "modules": {"overlay": True, "br_netfilter": False}}
    """

    def command(self, vmids: list[int]) -> str:
        loop = " ".join(str(int(vmid)) for vmid in vmids)
        return (
            f'for v in {loop}; do f=/etc/pve/lxc/$v.conf; '
            f'if [ -f "$f" ]; then echo "{CONF_MARKER} $v"; cat "$f"; else echo "{CONF_MARKER} $v missing"; fi; done; '
            f'echo "{MODULES_MARKER}"; '
            "if grep -qw overlay /proc/filesystems; then echo overlay=yes; else echo overlay=no; fi; "
            "if [ -d /sys/module/br_netfilter ]; then echo br_netfilter=yes; else echo br_netfilter=no; fi"
        )

    def process(self, output: list[str]) -> ProxmoxLxcState:
        state = ProxmoxLxcState(confs={}, modules={})
        current: list[str] | None = None
        for line in output:
            if line.startswith(CONF_MARKER):
                _, _, vmid, *missing = line.split()
                current = None if missing else []
                state["confs"][int(vmid)] = current
            elif line == MODULES_MARKER:
                current = None
            elif current is not None:
                current.append(line)
            elif "=" in line:
                module, _, loaded = line.partition("=")
                state["modules"][module] = loaded == "yes"
        return state
