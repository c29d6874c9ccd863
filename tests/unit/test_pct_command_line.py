"""The pct connector's command lines survive two shells byte for byte (pure string logic)."""

import shlex

import pytest
from pyinfra.api import StringCommand
from pyinfra.connectors.util import make_unix_command

from connectors.pct import CONTAINER_PATH, container_command
from connectors.proxmox_node import pct_command_line

TRICKY_COMMANDS = [
    "echo 'single' \"double\"",
    "printf '%s\\n' \"$HOME\" '$HOME' `id -u` $(id -u)",
    "echo back\\\\slash \\n",
    "printf 'line one\nline two\n'",
    "echo grüße ünïcödé ☃",
    "echo '; rm -rf / #' && true || false | cat > /dev/null",
]


@pytest.mark.parametrize("command", TRICKY_COMMANDS)
def test_container_shell_receives_the_exact_command(command):
    unix_command = make_unix_command(StringCommand(command))
    line = container_command(pct_command_line("/opt/my pct", "exec", 101), unix_command)

    node_argv = shlex.split(line.get_raw_value())
    assert node_argv[:8] == ["/opt/my pct", "exec", "101", "--", "/usr/bin/env", f"PATH={CONTAINER_PATH}", "sh", "-c"]
    assert shlex.split(node_argv[8]) == ["sh", "-c", command]


def test_container_command_does_not_inherit_the_callers_path():
    """pct exec keeps the caller's environment: a venv-only PATH must not decide what runs inside."""
    line = container_command(pct_command_line("pct", "exec", 101), StringCommand("k3s", "--version"))
    assert shlex.split(line.get_raw_value())[4:6] == ["/usr/bin/env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def test_pct_arguments_are_each_one_word():
    line = pct_command_line("pct", "push", 101, "/tmp/a b", "/etc/x'y", "--perms", "0600")
    assert shlex.split(line.get_raw_value()) == [
        "pct", "push", "101", "/tmp/a b", "/etc/x'y", "--perms", "0600",
    ]
