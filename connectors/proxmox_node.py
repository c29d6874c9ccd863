"""The Proxmox node that holds a pct host's container, and the ``pct`` command lines run on it."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pyinfra.api import QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors.base import BaseConnector, host_to_connector_data
from pyinfra.connectors.local import LocalConnector
from pyinfra.connectors.ssh import ConnectorData as SSHConnectorData
from pyinfra.connectors.ssh import SSHConnector, connector_data_meta
from pyinfra.connectors.util import CommandOutput, remove_any_sudo_askpass_file

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

NODE_SSH_PREFIX = "pct_"
NODE_DATA_KEYS = ("pct_node", "pct_command")
# The inventory group of the Proxmox nodes themselves (docs/ARCHITECTURE.md, inventory contract).
PROXMOX_GROUP = "proxmox_hosts"
# pct's own words for a vmid whose conf is not in this node's directory
# (proxmox/pve-guest-common src/PVE/AbstractConfig.pm `load_config`).
MISSING_CONFIG = re.compile(r"^Configuration file 'nodes/(?P<node>[^/']+)/lxc/[0-9]+\.conf' does not exist$")
CLUSTER_CONF = re.compile(r"^/etc/pve/nodes/(?P<node>[^/]+)/lxc/[0-9]+\.conf$")


def node_ssh_data(host_data: Mapping[str, Any]) -> dict[str, Any]:
    """Map the ``pct_ssh_*`` host data onto the ``ssh_*`` keys pyinfra's SSH connector reads."""
    return {
        key[len(NODE_SSH_PREFIX) :]: value
        for key, value in host_data.items()
        if key.startswith(f"{NODE_SSH_PREFIX}ssh_")
    }


def node_is_local(host_data: Mapping[str, Any]) -> bool:
    """The node is this machine exactly when no SSH address is given for it (the inventory contract)."""
    return not host_data.get("pct_ssh_hostname")


def pct_command_line(pct_command: str, subcommand: str, vmid: int | str, *args: Any) -> StringCommand:
    """``<pct> <subcommand> <vmid> <args...>`` with every word quoted for the node's shell.

    Example:
        pct_command_line("pct", "push", 101, "/tmp/x", "/etc/y", "--perms", "0600")
    """
    words = [QuoteString(str(word)) for word in (subcommand, vmid, *args)]
    return StringCommand(QuoteString(pct_command), *words)


def one_line(output: CommandOutput) -> str:
    """The message a failed command left: its last non-empty stderr line, else stdout's."""
    return stderr_line(output) or next(
        (line.strip() for line in reversed(output.stdout_lines) if line.strip()), "no output"
    )


def stderr_line(output: CommandOutput) -> str:
    """The last non-empty stderr line, or ``""``: how ``pct push``/``pull`` report a failed copy."""
    return next((line.strip() for line in reversed(output.stderr_lines) if line.strip()), "")


def missing_config_node(message: str) -> str | None:
    """The node named by pct's "conf does not exist" message: the node pct ran on.

    Example:
        missing_config_node("Configuration file 'nodes/pve1/lxc/101.conf' does not exist") == "pve1"
    """
    match = MISSING_CONFIG.match(message)
    return match["node"] if match else None


def cluster_conf_command(vmid: int | str) -> StringCommand:
    """``ls -d /etc/pve/nodes/*/lxc/<vmid>.conf``: pmxcfs shows every node's confs on every node.

    The glob stays unquoted on purpose; the vmid is digits only.
    """
    return StringCommand("ls", "-d", f"/etc/pve/nodes/*/lxc/{int(vmid)}.conf")


def conf_nodes(lines: Iterable[str]) -> list[str]:
    """The nodes in the conf paths ``cluster_conf_command`` listed.

    Example:
        conf_nodes(["/etc/pve/nodes/pve2/lxc/101.conf"]) == ["pve2"]
    """
    return [match["node"] for match in map(CLUSTER_CONF.match, lines) if match]


def node_reach(hosts: Iterable[tuple[Collection[str], Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """How the inventory reaches each Proxmox node, from its hosts' (groups, data): the
    ``pct_node``/``pct_command``/``pct_ssh_*`` data of the first pct host on the node, else the node's
    own ``proxmox_hosts`` host (``node_name``, ``pct_command``, its ``ssh_*`` as ``pct_ssh_*``), so a
    node that holds none of the inventory's containers is reached too.

    Example:
        node_reach([(["k3s_workers"], {"pct_node": "pve2", "pct_ssh_hostname": "10.0.0.3"}),
                    (["proxmox_hosts"], {"node_name": "pve3", "ssh_hostname": "10.0.0.4"})])
        == {"pve2": {"pct_node": "pve2", "pct_ssh_hostname": "10.0.0.3"},
            "pve3": {"pct_node": "pve3", "pct_command": "pct", "pct_ssh_hostname": "10.0.0.4"}}
    """
    by_container: dict[str, dict[str, Any]] = {}
    by_proxmox_host: dict[str, dict[str, Any]] = {}
    for groups, data in hosts:
        if PROXMOX_GROUP in groups and data.get("node_name"):
            by_proxmox_host.setdefault(str(data["node_name"]), {
                "pct_node": str(data["node_name"]),
                "pct_command": data.get("pct_command") or "pct",
                **{f"{NODE_SSH_PREFIX}{key}": value for key, value in data.items() if key.startswith("ssh_")},
            })
        elif data.get("pct_node"):
            by_container.setdefault(str(data["pct_node"]), {
                key: value for key, value in data.items()
                if key in NODE_DATA_KEYS or key.startswith(f"{NODE_SSH_PREFIX}ssh_")
            })
    return {**by_proxmox_host, **by_container}


@dataclass(frozen=True)
class Relocation:
    """A container pct did not find on the node it ran on (``reached``), found in the cluster-wide
    conf directory of ``current``; ``node_data`` reaches ``current`` (None: the inventory does not)."""

    reached: str
    current: str
    node_data: dict[str, Any] | None

    def describe(self) -> str:
        return f"container is on node {self.current}, not on node {self.reached}"


def relocation(
    message: str, find_node: Callable[[], str | None], nodes: Mapping[str, Mapping[str, Any]]
) -> Relocation | None:
    """Where a migrated container is, when pct's ``message`` says its conf is not on the node pct ran on.

    ``find_node`` runs :func:`cluster_conf_command` on that node (pmxcfs shows every node's confs
    there) and returns the node of the conf it lists, or None; ``nodes`` is :func:`node_reach`'s map.
    None: the message is another one, or no other node has the conf (pct's message is the answer).

    Example:
        relocation("Configuration file 'nodes/pve1/lxc/101.conf' does not exist", lambda: "pve2", nodes)
        == Relocation("pve1", "pve2", nodes.get("pve2"))
    """
    reached = missing_config_node(message)
    if reached is None:
        return None
    current = find_node()
    if current is None or current == reached:
        return None
    data = nodes.get(current)
    return Relocation(reached, current, dict(data) if data is not None else None)


class NodeHost:
    """The pct host as its node's connector sees it.

    pyinfra's sudo and su support runs its own commands through ``host.run_shell_command`` (the
    askpass script, removed at disconnect) and keeps a prompted password in ``host.connector_data``.
    On a pct host those would reach the container, while the sudo they serve wraps ``pct`` on the
    node; this view runs them on the node and keeps the node's connector data apart. Everything else
    is the pct host's own.

    Example:
        view = NodeHost(host)
        view.connector = SSHConnector(state, cast("Host", view))
    """

    connector: BaseConnector

    def __init__(self, host: "Host"):
        self.host = host
        self.connector_data: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.host, name)

    def run_shell_command(self, *args: Any, **kwargs: Any) -> tuple[bool, CommandOutput]:
        return self.connector.run_shell_command(*args, **kwargs)


class ProxmoxNode:
    """Runs commands on the Proxmox node of a host that carries ``pct_vmid`` data.

    ``node_data`` (by default the host's own data) names the node and says how to reach it
    (``pct_node``, ``pct_command``, ``pct_ssh_*``): pyinfra's SSH connector built from the
    ``pct_ssh_*`` data, or pyinfra's local connector when there is no ``pct_ssh_hostname``
    (the node is this machine).

    Example:
        node = ProxmoxNode(state, host)
        node.run(node.pct("status"), _sudo=True)
    """

    connector: BaseConnector

    def __init__(self, state: "State", host: "Host", node_data: Mapping[str, Any] | None = None):
        if node_data is None:
            node_data = host.data.dict()
        self.host = host
        self.name = str(node_data.get("pct_node") or "")
        self.vmid = str(host.data.get("pct_vmid") or "")
        self.pct_command = str(node_data.get("pct_command") or "pct")
        if not self.name or not self.vmid:
            raise ConnectError(f"host {host.name}: field pct_node/pct_vmid: missing")
        self.view = NodeHost(host)
        node_host = cast("Host", self.view)
        if node_is_local(node_data):
            self.connector = LocalConnector(state, node_host)
        else:
            ssh = SSHConnector(state, node_host)
            ssh.data = host_to_connector_data(
                SSHConnectorData,
                connector_data_meta,
                node_ssh_data(node_data),  # type: ignore[arg-type]
            )
            self.connector = ssh
        self.view.connector = self.connector

    def connect(self) -> None:
        """Open the connection to the node (a no-op when it is this machine)."""
        self.connector.connect()

    def disconnect(self) -> None:
        """Remove any askpass script sudo used on the node, then close the connection."""
        remove_any_sudo_askpass_file(self.view)
        self.connector.disconnect()

    def pct(self, subcommand: str, *args: Any) -> StringCommand:
        """The ``pct`` command line for this host's container."""
        return pct_command_line(self.pct_command, subcommand, self.vmid, *args)

    def run(self, command: StringCommand, **arguments: Any) -> tuple[bool, CommandOutput]:
        """Run a command on the node; sudo/su arguments wrap it there, as pct needs root."""
        return self.connector.run_shell_command(command, **arguments)

    def run_pct(self, subcommand: str, *args: Any, **arguments: Any) -> CommandOutput:
        """Run ``pct <subcommand> <vmid> <args>`` and return its output.

        ``push`` and ``pull`` exit 0 when the copy fails: their callers check what arrived.

        Raises:
            OSError: one line naming the host, node and vmid with pct's own message.
        """
        ok, output = self.run(self.pct(subcommand, *args), **arguments)
        if not ok:
            raise OSError(self.describe(f"pct {subcommand} failed: {one_line(output)}"))
        return output

    def container_node(self, **arguments: Any) -> str | None:
        """The node whose conf directory holds this vmid, read from the cluster-wide /etc/pve."""
        ok, output = self.run(cluster_conf_command(self.vmid), _success_exit_codes=[0, 2], **arguments)
        nodes = conf_nodes(output.stdout_lines) if ok else []
        return nodes[0] if nodes else None

    def make_private_directory(self) -> str:
        """A new directory only the node's user can read (``mktemp -d``: mode 0700)."""
        ok, output = self.run(StringCommand("mktemp", "-d"))
        if not ok or not output.stdout_lines:
            raise OSError(self.describe(f"mktemp -d failed: {one_line(output)}"))
        return output.stdout_lines[-1]

    def remove_directory(self, path: str) -> None:
        """Remove a directory made by :meth:`make_private_directory`."""
        ok, output = self.run(StringCommand("rm", "-rf", QuoteString(path)))
        if not ok:
            raise OSError(self.describe(f"cannot remove {path}: {one_line(output)}"))

    def describe(self, message: str) -> str:
        """Prefix a message with the host, its vmid and its node, for one-line errors."""
        return f"host {self.host.name} (vmid {self.vmid} on node {self.name}): {message}"
