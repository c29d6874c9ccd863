"""Where a NotReady node runs and how to reach it: its inventory host, else a container of that
name on a Proxmox host; what the diagnosis reads there.

Example:

    access = resolve("k3s-worker-1", {pve1: pve1.get_fact(PctList)})
    observe(access, listed_status(access, containers))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyinfra import inventory
from pyinfra.api import StringCommand
from pyinfra.api.host import Host

from connectors.pct import container_command, pct_status
from connectors.proxmox_node import one_line, pct_command_line
from facts.node_diagnosis import NodeDiagnosis
from facts.pct import PctContainer
from tasks.repair.plan import Observation

COMMAND_TIMEOUT = 60


@dataclass
class NodeAccess:
    """How to reach one Kubernetes node: its inventory host and/or its container on a Proxmox host."""

    node: str
    host: Host | None = None
    proxmox: Host | None = None
    vmid: int | None = None

    def describe(self) -> str:
        where = []
        if self.host is not None:
            where.append(self.host.name)
        if self.proxmox is not None and self.vmid is not None:
            where.append(f"vmid {self.vmid} on {self.proxmox.data.get('node_name') or self.proxmox.name}")
        return ", ".join(where)

    def pct(self, subcommand: str, *args: Any) -> StringCommand:
        assert self.proxmox is not None and self.vmid is not None
        return pct_command_line(str(self.proxmox.data.get("pct_command") or "pct"), subcommand, self.vmid, *args)

    def container_status(self) -> str:
        """``pct status`` now, or empty when the node has no known container."""
        if self.proxmox is None or self.vmid is None:
            return ""
        if not reachable(self.proxmox):
            return f"unknown ({self.proxmox.name} does not answer)"
        ok, output = self.proxmox.run_shell_command(self.pct("status"), _timeout=COMMAND_TIMEOUT)
        return pct_status(output.stdout) if ok else f"unreadable ({one_line(output)})"

    def run(self, command: str, timeout: int = COMMAND_TIMEOUT) -> tuple[bool, list[str], str]:
        """Run a shell command in the node: through its own connection when it has one, else
        ``pct exec`` on its Proxmox host. Returns success, stdout lines and a one-line error."""
        try:
            if self.host is not None and self.host.connected:
                ok, output = self.host.run_shell_command(StringCommand(command), _timeout=timeout)
            elif self.proxmox is not None and self.vmid is not None and reachable(self.proxmox):
                ok, output = self.proxmox.run_shell_command(
                    container_command(self.pct("exec"), StringCommand(command)), _timeout=timeout)
            elif self.host is not None:
                if not reachable(self.host):
                    return False, [], f"cannot connect to {self.host.name}"
                ok, output = self.host.run_shell_command(StringCommand(command), _timeout=timeout)
            else:
                return False, [], "no connection and no container to reach it through"
        except (OSError, TimeoutError) as error:
            return False, [], str(error)
        return ok, output.stdout_lines, "" if ok else one_line(output)


def reachable(member: Host) -> bool:
    """Connect a host outside ``--limit`` (or down when pyinfra connected) when it is needed."""
    if not member.connected:
        member.connect(show_errors=False)
    return member.connected


def inventory_host(node: str) -> Host | None:
    for group in ("k3s_control", "k3s_workers"):
        for member in inventory.get_group(group, []):
            if node in (member.data.get("node_name"), member.data.get("ssh_hostname"), member.name):
                return member
    return None


def proxmox_host(name: str) -> Host | None:
    for member in inventory.get_group("proxmox_hosts", []):
        if member.data.get("node_name") == name:
            return member
    return None


def resolve(node: str, containers: dict[Host, dict[str, PctContainer]]) -> NodeAccess:
    """Inventory host first (its pct data names its container, found on the Proxmox host that lists
    it: after a migration that is another one than the inventory names), else a container named
    like the node."""
    member = inventory_host(node)
    if member is not None and member.data.get("pct_vmid"):
        vmid = int(member.data.get("pct_vmid"))
        named = proxmox_host(str(member.data.get("pct_node")))
        listed = listing(vmid, named, containers)
        return NodeAccess(node, member, listed[0] if listed is not None else named, vmid)
    for proxmox, by_name in containers.items():
        if node in by_name:
            return NodeAccess(node, member, proxmox, by_name[node]["vmid"])
    return NodeAccess(node, member)


def listed_status(access: NodeAccess, containers: dict[Host, dict[str, PctContainer]]) -> str:
    """The container's status in ``pct list`` (its Proxmox host's, else another's); empty when not listed."""
    listed = listing(access.vmid, access.proxmox, containers) if access.vmid is not None else None
    return listed[1]["status"] if listed is not None else ""


def listing(vmid: int, preferred: Host | None,
            containers: dict[Host, dict[str, PctContainer]]) -> tuple[Host, PctContainer] | None:
    """The Proxmox host whose ``pct list`` has ``vmid`` and its row: ``preferred``'s first, then
    the other hosts' (pct lists only its own node's containers, and a container migrates)."""
    hosts = sorted(containers, key=lambda proxmox: proxmox is not preferred)
    return next(((proxmox, item) for proxmox in hosts for item in containers[proxmox].values()
                 if item["vmid"] == vmid), None)


def observe(access: NodeAccess, container: str) -> Observation:
    """What the diagnosis needs: the container state and, when it runs, ``NodeDiagnosis``."""
    if access.host is None and access.proxmox is None:
        return Observation(location="")
    if container == "stopped":
        return Observation(access.describe(), container)
    fact = NodeDiagnosis()
    ok, lines, _ = access.run(fact.command())
    return Observation(access.describe(), container, fact.process(lines) if ok else None)
