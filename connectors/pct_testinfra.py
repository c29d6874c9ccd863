"""testinfra backend ``pct://<vmid>@<node>``: run checks in a Proxmox LXC container with ``pct exec``.

testinfra keeps only the scheme and the netloc of a host spec, so the vmid rides in the user
part of the netloc. Node ``local`` runs ``pct`` on this machine; any other node is reached with
``ssh`` at ``node_address``, else at the node name (which an ssh config may alias).

Example:
    testinfra.backend.BACKENDS["pct"] = "connectors.pct_testinfra.PctBackend"
    host = testinfra.get_host("pct://101@local", pct_command="/usr/sbin/pct")
    host.run("hostname").stdout
"""

from __future__ import annotations

import os
from typing import Any

from pyinfra.api import StringCommand
from testinfra.backend import base

from connectors.pct import container_command
from connectors.proxmox_node import pct_command_line

LOCAL_NODE = "local"


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
        *args: Any,
        **kwargs: Any,
    ):
        spec = self.parse_hostspec(hostspec)
        if not spec.user or not spec.user.isdigit():
            raise RuntimeError(f"pct host spec {hostspec!r}: must be pct://<vmid>@<node>, e.g. pct://101@pve1")
        self.vmid = spec.user
        self.node = spec.name
        self.pct_command = pct_command or os.environ.get("PCT_COMMAND", "pct")
        self.node_address = node_address
        self.node_user = node_user
        self.node_port = node_port
        self.ssh_identity_file = ssh_identity_file
        self.ssh_known_hosts_file = ssh_known_hosts_file
        self.ssh_config = ssh_config
        super().__init__(f"{self.vmid}@{self.node}", *args, **kwargs)

    def get_pytest_id(self) -> str:
        return f"pct://{self.vmid}@{self.node}"

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        unix_command = self.get_command(command, *args)
        # The connector's own line (and its container PATH), so both reach a container the same way.
        pct_line = container_command(pct_command_line(self.pct_command, "exec", self.vmid),
                                     StringCommand(unix_command)).get_raw_value()
        if self.node_is_local():
            result = self.run_local(pct_line)
        else:
            ssh_command, ssh_args = self.ssh_words()
            result = self.run_local(" ".join([*ssh_command, "%s"]), *ssh_args, pct_line)
        result.command = self.encode(unix_command)
        return result

    def node_is_local(self) -> bool:
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
