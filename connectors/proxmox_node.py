"""The Proxmox node that holds a pct host's container, and the ``pct`` command lines run on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyinfra.api import QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors.base import BaseConnector, host_to_connector_data
from pyinfra.connectors.local import LocalConnector
from pyinfra.connectors.ssh import ConnectorData as SSHConnectorData
from pyinfra.connectors.ssh import SSHConnector, connector_data_meta
from pyinfra.connectors.util import CommandOutput

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

NODE_SSH_PREFIX = "pct_"


def node_ssh_data(host_data: dict[str, Any]) -> dict[str, Any]:
    """Map the ``pct_ssh_*`` host data onto the ``ssh_*`` keys pyinfra's SSH connector reads."""
    return {
        key[len(NODE_SSH_PREFIX) :]: value
        for key, value in host_data.items()
        if key.startswith(f"{NODE_SSH_PREFIX}ssh_")
    }


def node_is_local(host_data: dict[str, Any]) -> bool:
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
    for lines in (output.stderr_lines, output.stdout_lines):
        for line in reversed(lines):
            if line.strip():
                return line.strip()
    return "no output"


class ProxmoxNode:
    """Runs commands on the Proxmox node of a host that carries ``pct_node``/``pct_vmid`` data.

    The node is reached with pyinfra's SSH connector built from the ``pct_ssh_*`` data, or with
    pyinfra's local connector when there is no ``pct_ssh_hostname`` (the node is this machine).
    """

    connector: BaseConnector

    def __init__(self, state: "State", host: "Host"):
        host_data = host.data.dict()
        self.host = host
        self.name = str(host_data.get("pct_node") or "")
        self.vmid = str(host_data.get("pct_vmid") or "")
        self.pct_command = str(host_data.get("pct_command") or "pct")
        if not self.name or not self.vmid:
            raise ConnectError(f"host {host.name}: field pct_node/pct_vmid: missing")
        if node_is_local(host_data):
            self.connector = LocalConnector(state, host)
        else:
            ssh = SSHConnector(state, host)
            ssh.data = host_to_connector_data(
                SSHConnectorData,
                connector_data_meta,
                node_ssh_data(host_data),  # type: ignore[arg-type]
            )
            self.connector = ssh

    def connect(self) -> None:
        """Open the connection to the node (a no-op when it is this machine)."""
        self.connector.connect()

    def disconnect(self) -> None:
        """Close the connection to the node."""
        self.connector.disconnect()

    def pct(self, subcommand: str, *args: Any) -> StringCommand:
        """The ``pct`` command line for this host's container."""
        return pct_command_line(self.pct_command, subcommand, self.vmid, *args)

    def run(self, command: StringCommand, **control_arguments: Any) -> tuple[bool, CommandOutput]:
        """Run a command on the node; only pyinfra's control arguments (stdin, timeout...) apply."""
        return self.connector.run_shell_command(command, **control_arguments)

    def run_pct(self, subcommand: str, *args: Any) -> str:
        """Run ``pct <subcommand> <vmid> <args>`` and return its stdout.

        Raises:
            OSError: one line naming the host, node and vmid with pct's own message.
        """
        ok, output = self.run(self.pct(subcommand, *args))
        if not ok:
            raise OSError(self.describe(f"pct {subcommand} failed: {one_line(output)}"))
        return output.stdout

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
