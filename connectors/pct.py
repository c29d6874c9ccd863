"""The ``@pct`` connector: run pyinfra on Proxmox LXC containers through ``pct`` on their node."""

from __future__ import annotations

import re
from io import BytesIO
from typing import TYPE_CHECKING, Any

from typing_extensions import TypedDict, Unpack, override

from pyinfra.api import QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError, InventoryError
from pyinfra.api.util import get_file_io
from pyinfra.connectors.base import BaseConnector, DataMeta
from pyinfra.connectors.util import (
    CommandOutput,
    extract_control_arguments,
    make_unix_command_for_host,
)

from .proxmox_node import ProxmoxNode, one_line

if TYPE_CHECKING:
    from pyinfra.api.arguments import ConnectorArguments
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

PCT_NAME = re.compile(r"^(?P<node>[^/\s]+)/(?P<vmid>[0-9]+)$")
RUNNING = "running"


class PctConnectorData(TypedDict):
    pct_node: str
    pct_vmid: int | str
    pct_command: str


pct_data_meta: dict[str, DataMeta] = {
    "pct_node": DataMeta("Proxmox node holding the container"),
    "pct_vmid": DataMeta("Container vmid on that node"),
    "pct_command": DataMeta("Path of `pct` on the node", "pct"),
}


def parse_pct_name(name: str | None) -> tuple[str, int]:
    """Split the ``<node>/<vmid>`` part of an ``@pct/<node>/<vmid>`` inventory name.

    Example:
        parse_pct_name("pve1/101") == ("pve1", 101)
    """
    match = PCT_NAME.match(name or "")
    if not match:
        raise InventoryError(f"@pct/{name or ''}: name must be @pct/<node>/<vmid>, e.g. @pct/pve1/101")
    return match["node"], int(match["vmid"])


def pct_status(status_output: str) -> str:
    """The state word of ``pct status`` output (``status: running`` -> ``running``)."""
    _, _, state = status_output.strip().partition("status:")
    return state.strip() or status_output.strip()


# ``pct exec`` keeps the caller's environment by default (lxc-attach's keep-env), so a PATH from
# the operator's venv or cron would decide which ``k3s``/``systemctl`` the container runs, or find
# none. Commands get the PATH a root login in the container has, like an SSH session.
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def container_command(pct_exec: StringCommand, unix_command: StringCommand) -> StringCommand:
    """``<pct exec ...> -- /usr/bin/env PATH=... sh -c '<command>'``: the command is one word.

    Example:
        container_command(StringCommand("pct", "exec", "101"), StringCommand("uptime"))
    """
    return StringCommand(pct_exec, "--", "/usr/bin/env", f"PATH={CONTAINER_PATH}", "sh", "-c", QuoteString(unix_command))


class PctConnector(BaseConnector):
    """
    Run commands in Proxmox LXC containers with ``pct exec`` on their Proxmox node, which is
    reached over SSH (``pct_ssh_*`` data) or, without ``pct_ssh_hostname``, is this machine.
    Files move through a private temporary directory on the node and ``pct push`` / ``pct pull``.

    .. code:: shell

        pyinfra @pct/pve1/101 --data pct_ssh_hostname=pve1.example.net exec -- uptime
        pyinfra @pct/local/101 --data pct_command=/path/to/pct exec -- echo hi
    """

    handles_execution = True

    data_cls = PctConnectorData
    data_meta = pct_data_meta

    node: ProxmoxNode

    def __init__(self, state: "State", host: "Host"):
        super().__init__(state, host)
        self.node = ProxmoxNode(state, host)

    @override
    @staticmethod
    def make_names_data(name: str | None = None):
        node, vmid = parse_pct_name(name)
        yield f"@pct/{node}/{vmid}", {"pct_node": node, "pct_vmid": vmid}, ["@pct"]

    @override
    def connect(self) -> None:
        self.node.connect()
        ok, output = self.node.run(self.node.pct("status"))
        if not ok:
            raise ConnectError(self.node.describe(one_line(output)))
        state = pct_status(output.stdout)
        if state != RUNNING:
            raise ConnectError(
                self.node.describe(f"container is {state}; start it with `pct start {self.node.vmid}`")
            )

    @override
    def disconnect(self) -> None:
        self.node.disconnect()

    @override
    def run_shell_command(
        self,
        command: StringCommand,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack["ConnectorArguments"],
    ) -> tuple[bool, CommandOutput]:
        # Stdin, timeout, pty and accepted exit codes belong to the node's process: pct exec
        # passes stdin through and exits with the container command's status.
        control_arguments = extract_control_arguments(arguments)
        unix_command = make_unix_command_for_host(self.state, self.host, command, **arguments)
        return self.node.connector.run_shell_command(
            container_command(self.node.pct("exec"), unix_command),
            print_output=print_output,
            print_input=print_input,
            **control_arguments,
        )

    @override
    def put_file(
        self,
        filename_or_io,
        remote_filename: str,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack["ConnectorArguments"],
    ) -> bool:
        """Upload through a private directory on the node and ``pct push`` (file mode 0600),
        then ``cat`` it into place in the container so an existing file keeps its mode and owner,
        as an SFTP overwrite does."""
        container_temp = remote_temp_filename or self.host.get_temp_filename(remote_filename)
        with get_file_io(filename_or_io) as file_io:
            data = file_io.read()
        content = data.encode() if isinstance(data, str) else data

        directory = self.node.make_private_directory()
        try:
            node_file = f"{directory}/upload"
            self.node.connector.put_file(BytesIO(content), node_file)
            self.node.run_pct("push", node_file, container_temp, "--perms", "0600")
        finally:
            self.node.remove_directory(directory)

        ok, output = self.run_shell_command(
            StringCommand(
                "cat", QuoteString(container_temp), ">", QuoteString(remote_filename),
                ";", "status=$?", ";", "rm", "-f", QuoteString(container_temp), ";", "exit", "$status",
            ),
            print_output=print_output,
            print_input=print_input,
            **arguments,
        )
        if not ok:
            raise OSError(self.node.describe(f"cannot write {remote_filename}: {one_line(output)}"))
        return True

    @override
    def get_file(
        self,
        remote_filename: str,
        filename_or_io,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Any,
    ) -> bool:
        """Download with ``pct pull`` into a private directory on the node, then fetch it."""
        directory = self.node.make_private_directory()
        try:
            node_file = f"{directory}/download"
            self.node.run_pct("pull", remote_filename, node_file)
            self.node.connector.get_file(node_file, filename_or_io)
        finally:
            self.node.remove_directory(directory)
        return True
