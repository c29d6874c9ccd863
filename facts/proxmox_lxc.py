"""What a Proxmox node gives its k3s containers, in one command: each container's
``/etc/pve/lxc/<vmid>.conf`` and whether the node's kernel has ``overlay`` and ``br_netfilter``
(a container cannot load kernel modules itself)."""

from __future__ import annotations

from typing import TypedDict

from pyinfra.api import FactBase

from facts.sections import split_sections

# What k3s needs in a container's conf: no AppArmor confinement, every device and capability,
# /proc and /sys writable (the preflight checks them, tasks/proxmox_lxc writes them).
K3S_LXC_LINES = (
    ("lxc.apparmor.profile", "unconfined"),
    ("lxc.cgroup2.devices.allow", "a"),
    ("lxc.cap.drop", ""),
    ("lxc.mount.auto", '"proc:rw sys:rw"'),
)
# Proxmox's own container features k3s needs (pve-container src/PVE/LXC/Config.pm, `features`):
# nesting (a container runtime inside, /proc and /sys of its own) and keyctl (the keyctl() syscall).
K3S_FEATURES = (("nesting", "1"), ("keyctl", "1"))
# The cgroup v1 key guides still copy; Proxmox VE 7+ runs the unified cgroup2 hierarchy, where LXC
# ignores it (the cgroup2 key in K3S_LXC_LINES is the one that applies).
CGROUP_V1_DEVICES = "lxc.cgroup.devices.allow"
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
        sections = split_sections(output, CONF_MARKER, MODULES_MARKER)
        state = ProxmoxLxcState(confs={}, modules={})
        for marker, lines in sections.items():
            if marker.startswith(CONF_MARKER):
                _, _, vmid, *missing = marker.split()
                state["confs"][int(vmid)] = None if missing else lines
        for line in sections.get(MODULES_MARKER, []):
            module, separator, loaded = line.partition("=")
            if not separator:
                continue
            state["modules"][module] = loaded == "yes"
        return state
