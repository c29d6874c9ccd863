"""testinfra backend ``pct://<vmid>@<node>``: run checks in a Proxmox LXC container with ``pct exec``.

testinfra keeps only the scheme and the netloc of a host spec, so the vmid rides in the user
part of the netloc. Node ``local`` runs ``pct`` on this machine; any other node is reached with
``ssh`` at ``node_address``, else at the node name (which an ssh config may alias).

A container that migrated is followed as the pyinfra connector follows it
(``connectors.proxmox_node.relocation``): when pct says its conf is not on the node, the node whose
conf directory has it is reached with ``proxmox_nodes``, the inventory's data for each Proxmox node
(:func:`proxmox_nodes_option` of ``connectors.proxmox_node.node_reach``).

Example:
    testinfra.backend.BACKENDS["pct"] = "connectors.pct_testinfra.PctBackend"
    host = testinfra.get_host("pct://101@local", pct_command="/usr/sbin/pct")
    host.run("hostname").stdout
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyinfra.api import StringCommand
from testinfra.backend import base

from connectors.pct import container_command
from connectors.proxmox_node import cluster_conf_command, conf_nodes, node_is_local, pct_command_line, relocation

LOCAL_NODE = "local"
# testinfra caches hosts by their options, so the node map travels as nested tuples.
ProxmoxNodesOption = tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]


def proxmox_nodes_option(nodes: Mapping[str, Mapping[str, Any]]) -> ProxmoxNodesOption:
    """``node_reach``'s map in the hashable form the ``proxmox_nodes`` option takes.

    Example:
        proxmox_nodes_option({"pve2": {"pct_node": "pve2", "pct_ssh_hostname": "10.0.0.3"}})
        == (("pve2", (("pct_node", "pve2"), ("pct_ssh_hostname", "10.0.0.3"))),)
    """
    return tuple(sorted((node, tuple(sorted(data.items()))) for node, data in nodes.items()))


def node_options(node_data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The spec's node and the backend options that reach a node as the connector's data does
    (``pct_node``, ``pct_command``, ``pct_ssh_*``); without an SSH address the node is this machine.

    Example:
        node_options({"pct_node": "pve2", "pct_ssh_hostname": "10.0.0.3"})
        == ("pve2", {"pct_command": "pct", "node_address": "10.0.0.3"})
    """
    node = LOCAL_NODE if node_is_local(node_data) else str(node_data["pct_node"])
    options = {
        "pct_command": node_data.get("pct_command") or "pct",
        "node_address": node_data.get("pct_ssh_hostname"),
        "node_user": node_data.get("pct_ssh_user"),
        "node_port": node_data.get("pct_ssh_port"),
        "ssh_identity_file": node_data.get("pct_ssh_key"),
        "ssh_known_hosts_file": node_data.get("pct_ssh_known_hosts_file"),
    }
    return node, {key: value for key, value in options.items() if value is not None}


@dataclass(frozen=True)
class NodeReach:
    """How the backend runs a command on the Proxmox node: locally, or with ``ssh``."""

    node: str
    pct_command: str = "pct"
    node_address: str | None = None
    node_user: str | None = None
    node_port: int | None = None
    ssh_identity_file: str | None = None
    ssh_known_hosts_file: str | None = None
    ssh_config: str | None = None

    def is_local(self) -> bool:
        """The node is this machine when called ``local`` and given no address."""
        return self.node == LOCAL_NODE and not self.node_address

    def ssh_words(self) -> tuple[list[str], list[str]]:
        """``ssh`` options (with ``%s`` placeholders) and their values, ending with the target."""
        words = ["ssh", "-o", "BatchMode=yes"]
        values: list[str] = []
        for option, value in (
            ("-F %s", self.ssh_config),
            ("-i %s", self.ssh_identity_file),
            ("-o UserKnownHostsFile=%s", self.ssh_known_hosts_file),
            ("-l %s", self.node_user),
            ("-p %s", self.node_port and str(self.node_port)),
        ):
            if value:
                words.append(option)
                values.append(value)
        if self.ssh_known_hosts_file:
            words.append("-o StrictHostKeyChecking=yes")
        words.append("%s")
        values.append(self.node_address or self.node)
        return words, values


class PctBackend(base.BaseBackend):
    NAME = "pct"

    def __init__(
        self,
        hostspec: str,
        pct_command: str | None = None,
        node_address: str | None = None,
        node_user: str | None = None,
        node_port: int | None = None,
        ssh_identity_file: str | None = None,
        ssh_known_hosts_file: str | None = None,
        ssh_config: str | None = None,
        proxmox_nodes: ProxmoxNodesOption = (),
        *args: Any,
        **kwargs: Any,
    ):
        spec = self.parse_hostspec(hostspec)
        if not spec.user or not spec.user.isdigit():
            raise RuntimeError(f"pct host spec {hostspec!r}: must be pct://<vmid>@<node>, e.g. pct://101@pve1")
        self.vmid = spec.user
        self.node = spec.name
        self.reach = NodeReach(
            self.node, pct_command or os.environ.get("PCT_COMMAND", "pct"), node_address, node_user,
            node_port, ssh_identity_file, ssh_known_hosts_file, ssh_config,
        )
        self.proxmox_nodes = {node: dict(data) for node, data in proxmox_nodes}
        super().__init__(f"{self.vmid}@{self.node}", *args, **kwargs)

    def get_pytest_id(self) -> str:
        return f"pct://{self.vmid}@{self.node}"

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        unix_command = self.get_command(command, *args)
        result = self.run_in_container(unix_command)
        if result.rc != 0 and self.follow_migration(last_line(result.stderr)):
            result = self.run_in_container(unix_command)
        result.command = self.encode(unix_command)
        return result

    def run_in_container(self, unix_command: str) -> base.CommandResult:
        """``pct exec`` on the node: the connector's own line (and its container PATH), so both
        reach a container the same way."""
        pct_line = container_command(pct_command_line(self.reach.pct_command, "exec", self.vmid),
                                     StringCommand(unix_command))
        return self.run_on_node(pct_line.get_raw_value())

    def run_on_node(self, node_command: str) -> base.CommandResult:
        """A shell command on the Proxmox node the backend reaches now."""
        if self.reach.is_local():
            return self.run_local(node_command)
        ssh_command, ssh_args = self.reach.ssh_words()
        return self.run_local(" ".join([*ssh_command, "%s"]), *ssh_args, node_command)

    def follow_migration(self, message: str) -> bool:
        """Reach the container's current node when pct's ``message`` says it is not on this one
        and ``proxmox_nodes`` reaches that node; True when the backend switched.

        Raises:
            RuntimeError: one line naming the spec, the vmid and both nodes when it is on a node
            ``proxmox_nodes`` does not reach.
        """
        moved = relocation(message, self.container_node, self.proxmox_nodes)
        if moved is None:
            return False
        where = f"{self.get_pytest_id()} (vmid {self.vmid} on node {moved.reached})"
        if moved.node_data is None:
            raise RuntimeError(f"{where}: {moved.describe()}: list node {moved.current} in the inventory's "
                               f"proxmox_hosts or name it in the host spec")
        node, options = node_options(moved.node_data)
        self.reach = NodeReach(node, ssh_config=self.reach.ssh_config, **options)
        warnings.warn(f"{where}: {moved.describe()}; reaching it as the inventory reaches {moved.current}",
                      stacklevel=2)
        return True

    def container_node(self) -> str | None:
        """The node whose conf directory holds the vmid, read from the cluster-wide /etc/pve."""
        listed = self.run_on_node(cluster_conf_command(self.vmid).get_raw_value())
        nodes = conf_nodes(listed.stdout.splitlines())
        return nodes[0] if nodes else None


def last_line(text: str) -> str:
    """The last non-empty line: pct's message when it fails."""
    return next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "")
