"""Opt-in, on ``proxmox_hosts``: the container settings k3s needs in LXC.

Enabled per k3s container with its inventory data ``proxmox_lxc_manage: true`` (cluster-wide under
``data:``). For every such container on the node it ensures ``facts.proxmox_lxc.K3S_LXC_LINES`` and the
``features`` k3s needs (``nesting=1,keyctl=1``, the container's other features kept) in
``/etc/pve/lxc/<vmid>.conf``, drops the cgroup v1 key ``lxc.cgroup.devices.allow`` that guides still
copy (dead on Proxmox VE 7+, where the cgroup2 key applies), printing a diff before it writes and pushes the node's
``/boot/config-$(uname -r)`` into the container (the kubelet reads it). Conf changes apply on the
container's next start; it is restarted here only with ``proxmox_lxc_restart: true``.
``proxmox_lxc_bind_kmsg: true`` also binds the node's ``/dev/kmsg``.
"""

from __future__ import annotations

import difflib
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from pyinfra import host, inventory
from pyinfra.api import StringCommand, operation

from facts.pct import PctLxc
from facts.proxmox_lxc import CGROUP_V1_DEVICES, K3S_FEATURES, K3S_LXC_LINES
from tasks.desired_files import replaced, text_file
from tasks.settings import flag, value

KMSG_BIND = ("lxc.mount.entry", "/dev/kmsg dev/kmsg none defaults,bind,create=file")


@dataclass(frozen=True)
class ManagedContainer:
    vmid: int
    wanted: tuple[tuple[str, str], ...]
    restart: bool


def managed_containers() -> list[ManagedContainer]:
    """The inventory's k3s containers on this Proxmox node that opted in, with what each wants."""
    members = inventory.get_group("k3s_control", []) + inventory.get_group("k3s_workers", [])
    return [
        ManagedContainer(
            vmid=member.data.pct_vmid,
            wanted=K3S_LXC_LINES + ((KMSG_BIND,) if flag("proxmox_lxc_bind_kmsg", of=member) else ()),
            restart=flag("proxmox_lxc_restart", of=member),
        )
        for member in members
        if member.data.get("pct_node") == host.data.node_name and flag("proxmox_lxc_manage", of=member)
    ]


def features_line(current: str | None) -> str:
    """``features:`` with k3s's features on, the container's others kept in their order.

    Example:
        features_line("fuse=1,nesting=0") == "features: fuse=1,nesting=1,keyctl=1"
    """
    items = dict(item.split("=", 1) for item in (current or "").split(",") if "=" in item)
    items.update(K3S_FEATURES)
    return "features: " + ",".join(f"{name}={setting}" for name, setting in items.items())


def conf_with(lines: list[str], wanted: tuple[tuple[str, str], ...]) -> list[str]:
    """The conf with each wanted key set once, k3s's features on and the dead cgroup v1 devices key
    gone, in the main section (before any ``[snapshot]``)."""
    section_start = next((index for index, line in enumerate(lines) if line.startswith("[")), len(lines))
    main, snapshots = lines[:section_start], lines[section_start:]
    keys = {key for key, _ in wanted if key != KMSG_BIND[0]} | {CGROUP_V1_DEVICES}
    features = next((line.partition(":")[2].strip() for line in main if line.startswith("features:")), None)
    kept = [features_line(features) if line.startswith("features:") else line
            for line in main if line.partition(":")[0].strip() not in keys]
    if features is None:
        kept.append(features_line(None))
    missing = [f"{key}: {value}".rstrip() for key, value in wanted if f"{key}: {value}".rstrip() not in kept]
    return kept + missing + snapshots


@operation()
def k3s_lxc_settings(containers: list[ManagedContainer]) -> Generator[Any, None, None]:
    """
    Ensure each container's conf has its wanted lines and its ``/boot/config-<release>``; a
    container whose conf changed is rebooted only if it asked for it (``restart``).

    + containers: from ``managed_containers()``

    **Example:**

    .. code:: python

        k3s_lxc_settings(name="k3s LXC settings", containers=managed_containers())
    """
    pct = str(value("pct_command"))
    state = host.get_fact(PctLxc, vmids=[container.vmid for container in containers], pct_command=pct)
    boot_config = f"/boot/config-{state['release']}"
    commands: list[Any] = []
    present = []
    for container in containers:
        vmid = container.vmid
        current = state["confs"][vmid]
        if not current:
            # Not on this node (a conf is never empty): writing one would make a second container
            # of that vmid; after a migration the node that has it is the one to change.
            host.log(f"/etc/pve/lxc/{vmid}.conf not found on this node: vmid {vmid} is not here (migrated? "
                     "check its pct.node); left alone")
            continue
        present.append(vmid)
        desired = conf_with(current, container.wanted)
        if desired != current:
            path = f"/etc/pve/lxc/{vmid}.conf"
            for line in difflib.unified_diff(current, desired, path, path, lineterm=""):
                host.log(line)
            # /etc/pve (pmxcfs) keeps its own modes: it has no chmod.
            commands += replaced(text_file(path, "\n".join(desired) + "\n", mode=None))
            if container.restart:
                commands.append(StringCommand(pct, "reboot", str(vmid)))
        if not state["boot_config_in_container"][vmid]:
            if state["host_has_boot_config"]:
                commands.append(StringCommand(pct, "push", str(vmid), boot_config, boot_config))
            else:
                host.log(f"{boot_config} is missing on this node; containers cannot get it (kubelet warns)")
    if not commands and present:
        host.noop(f"containers {', '.join(str(vmid) for vmid in present)} have their k3s settings")
    yield from commands
