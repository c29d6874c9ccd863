"""The ``@pct`` connector: run pyinfra on Proxmox LXC containers through ``pct`` on their node."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from io import BytesIO
from typing import TYPE_CHECKING, Any

from typing_extensions import TypedDict, Unpack, override

from pyinfra import logger
from pyinfra.api import QuoteString, StringCommand
from pyinfra.api.arguments import auth_argument_meta, pop_global_arguments
from pyinfra.api.exceptions import ConnectError, InventoryError
from pyinfra.api.util import get_file_io
from pyinfra.connectors.base import BaseConnector, DataMeta
from pyinfra.connectors.util import CommandOutput, make_unix_command

from .pct_transfer import digest_command, install_command, sha256_of
from .proxmox_node import ProxmoxNode, node_reach, one_line, relocation, stderr_line

if TYPE_CHECKING:
    from pyinfra.api.arguments import ConnectorArguments
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

PCT_NAME = re.compile(r"^(?P<node>[^/\s]+)/(?P<vmid>[0-9]+)$")
RUNNING = "running"
# The arguments that shape the container's shell; all others (sudo/su, stdin, timeout, exit codes)
# belong to the ``pct`` process on the node.
CONTAINER_SHELL_ARGUMENTS = ("_env", "_chdir", "_shell_executable")


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


def split_arguments(arguments: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """pyinfra's connector arguments as (the container shell's, the node's).

    sudo/su go to the node, where ``pct`` needs root (a node reached as a non-root user), never
    into the container, which has no sudo and where ``pct exec`` already runs as root.

    Example:
        split_arguments({"_sudo": True, "_env": {"A": "1"}}) == ({"_env": {"A": "1"}}, {"_sudo": True})
    """
    shell = {key: value for key, value in arguments.items() if key in CONTAINER_SHELL_ARGUMENTS}
    node = {key: value for key, value in arguments.items() if key not in CONTAINER_SHELL_ARGUMENTS}
    return shell, node


def default_privilege(state: "State", host: "Host") -> dict[str, Any]:
    """The sudo/su arguments the host's operations get by default (``--sudo``, host data):
    ``connect`` runs ``pct status`` with them, as it has no arguments of its own."""
    arguments, _ = pop_global_arguments(state, host, {})
    return {key: value for key, value in arguments.items() if key in auth_argument_meta}


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
    Files move through a private temporary directory on the node and ``pct push`` / ``pct pull``,
    and what arrived is checked by sha256: both exit 0 when the copy fails.

    sudo/su arguments (``--sudo``, ``_sudo``...) wrap ``pct`` on the node, which needs root; in
    the container every command already runs as root (use ``su`` in a command for another user).
    A container that migrated is found on its current node when the inventory reaches that node.

    .. code:: shell

        pyinfra @pct/pve1/101 --data pct_ssh_hostname=pve1.example.net exec -- uptime
        pyinfra @pct/pve1/101 --data pct_ssh_hostname=pve1 --data pct_ssh_user=admin --sudo exec -- uptime
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
        privilege = default_privilege(self.state, self.host)
        self.node.connect()
        ok, output = self.node.run(self.node.pct("status"), **privilege)
        if not ok:
            self.reach_current_node(one_line(output), privilege)
            ok, output = self.node.run(self.node.pct("status"), **privilege)
            if not ok:
                raise ConnectError(self.node.describe(one_line(output)))
        state = pct_status(output.stdout)
        if state != RUNNING:
            raise ConnectError(
                self.node.describe(f"container is {state}; start it with `pct start {self.node.vmid}`")
            )

    def reach_current_node(self, message: str, privilege: Mapping[str, Any]) -> None:
        """When pct has no conf for the vmid, find the node that has it (/etc/pve/nodes/*/lxc is
        cluster-wide) and switch to it if the inventory reaches that node; else fail naming both.

        Raises:
            ConnectError: pct's message when no node has the conf; both nodes when another one
            has it and the inventory reaches no host on that node to take its data from.
        """
        nodes = node_reach((host.groups, host.data.dict()) for host in self.state.inventory)
        moved = relocation(message, lambda: self.node.container_node(**privilege), nodes)
        if moved is None:
            raise ConnectError(self.node.describe(message))
        if moved.node_data is None:
            raise ConnectError(self.node.describe(
                f"{moved.describe()}: set pct_node and pct_ssh_* to {moved.current}'s"
            ))
        logger.warning(self.node.describe(
            f"{moved.describe()}; reaching it as the inventory reaches {moved.current}"
        ))
        self.node.disconnect()
        self.node = ProxmoxNode(self.state, self.host, moved.node_data)
        self.node.connect()

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
        # The node's process takes stdin, timeout, pty and accepted exit codes (pct exec passes stdin
        # through and exits with the container command's status) and the sudo/su that pct needs.
        shell_arguments, node_arguments = split_arguments(arguments)
        unix_command = make_unix_command(command, **shell_arguments)
        return self.node.run(
            container_command(self.node.pct("exec"), unix_command),
            print_output=print_output,
            print_input=print_input,
            **node_arguments,
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
        """Upload through a private directory on the node and ``pct push`` (file mode 0600) to a
        temporary file, then in one container command check its sha256 and ``cat`` it into place:
        a failed push exits 0, and a bad copy never replaces the file."""
        container_temp = remote_temp_filename or self.host.get_temp_filename(remote_filename)
        with get_file_io(filename_or_io) as file_io:
            data = file_io.read()
        content = data.encode() if isinstance(data, str) else data
        _, node_arguments = split_arguments(arguments)

        directory = self.node.make_private_directory()
        try:
            node_file = f"{directory}/upload"
            self.node.connector.put_file(BytesIO(content), node_file)
            pushed = self.node.run_pct("push", node_file, container_temp, "--perms", "0600", **node_arguments)
        finally:
            self.node.remove_directory(directory)

        ok, output = self.run_shell_command(
            install_command(container_temp, remote_filename, hashlib.sha256(content).hexdigest()),
            print_output=print_output,
            print_input=print_input,
            **arguments,
        )
        if not ok:
            reason = stderr_line(pushed) or one_line(output)
            raise OSError(self.node.describe(f"cannot write {remote_filename}: {reason}"))
        return True

    @override
    def get_file(
        self,
        remote_filename: str,
        filename_or_io,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack["ConnectorArguments"],
    ) -> bool:
        """Read the file's sha256 in the container, ``pct pull`` it into a private directory on the
        node, fetch it and compare before writing it out: a failed pull exits 0 and leaves an
        empty file."""
        ok, output = self.run_shell_command(
            digest_command(remote_filename), print_output=print_output, print_input=print_input, **arguments
        )
        expected = sha256_of(output) if ok else None
        if expected is None:
            raise OSError(self.node.describe(f"cannot read {remote_filename}: {one_line(output)}"))
        _, node_arguments = split_arguments(arguments)

        directory = self.node.make_private_directory()
        try:
            node_file = f"{directory}/download"
            # 0644 inside the 0700 directory: the node's user can fetch what root (sudo) pulled.
            pulled = self.node.run_pct("pull", remote_filename, node_file, "--perms", "0644", **node_arguments)
            fetched = BytesIO()
            self.node.connector.get_file(node_file, fetched)
        finally:
            self.node.remove_directory(directory)

        content = fetched.getvalue()
        if hashlib.sha256(content).hexdigest() != expected:
            reason = stderr_line(pulled) or f"pct pull delivered {len(content)} bytes that differ from the container's"
            raise OSError(self.node.describe(f"cannot read {remote_filename}: {reason}"))
        with get_file_io(filename_or_io, "wb") as file_io:
            file_io.write(content)
        return True
