"""sudo/su arguments wrap ``pct`` on the Proxmox node, never the command in the container."""

from __future__ import annotations

import hashlib
import io
import shlex

import pytest
from pyinfra.api import Config, StringCommand

from connectors.pct import CONTAINER_PATH, split_arguments
from pct_fixtures import node_words, pct_hosts, record_node

HOST = ("@pct/pve1/101", {"pct_command": "pct"})
ASKPASS = "/tmp/pyinfra-sudo-askpass-node"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
CONTAINER_PREFIX = ["pct", "exec", "101", "--", "/usr/bin/env", f"PATH={CONTAINER_PATH}", "sh", "-c"]


def reply(command: str) -> tuple[int, str, str]:
    if "pyinfra-sudo-askpass" in command:
        return 0, f"{ASKPASS}\n", ""
    if "mktemp" in command:
        return 0, "/tmp/tmp.node\n", ""
    if "sha256sum --" in command:
        return 0, f"{EMPTY_SHA256}  -\n", ""
    if "pct status" in command:
        return 0, "status: running\n", ""
    return 0, "", ""


@pytest.fixture
def commands(monkeypatch):
    return record_node(monkeypatch, reply)


def run(host, command: str, **arguments):
    return host.connector.run_shell_command(StringCommand(command), **arguments)


def test_sudo_wraps_pct_on_the_node(commands):
    [host] = pct_hosts(HOST)
    run(host, "whoami", _sudo=True)
    assert node_words(commands[-1])[:6] == ["sudo", "-H", "-n", "pct", "exec", "101"]


def test_container_command_carries_no_sudo(commands):
    [host] = pct_hosts(HOST)
    run(host, "whoami", _sudo=True, _sudo_user="root")
    words = node_words(commands[-1])
    assert words[-9:-1] == CONTAINER_PREFIX and shlex.split(words[-1]) == ["sh", "-c", "whoami"]


def test_sudo_user_is_the_user_pct_runs_as_on_the_node(commands):
    [host] = pct_hosts(HOST)
    run(host, "true", _sudo=True, _sudo_user="pveadmin")
    assert node_words(commands[-1])[:5] == ["sudo", "-H", "-n", "-u", "pveadmin"]


def test_su_wraps_pct_on_the_node(commands):
    [host] = pct_hosts(HOST)
    run(host, "whoami", _su_user="root")
    su, user, flag, shell_line = shlex.split(commands[-1])
    assert (su, user, flag, shlex.split(shell_line)[:2]) == ("su", "root", "-c", ["sh", "-c"])
    assert shlex.split(shlex.split(shell_line)[2])[:3] == ["pct", "exec", "101"]


def test_env_and_chdir_shape_the_container_shell(commands):
    [host] = pct_hosts(HOST)
    run(host, "pwd", _sudo=True, _env={"A": "x y"}, _chdir="/srv")
    words = node_words(commands[-1])
    assert "export" not in words[:-1]
    assert shlex.split(words[-1]) == ["sh", "-c", "cd /srv && export 'A=x y' && pwd"]


def test_sudo_password_askpass_script_is_written_on_the_node(commands):
    """pyinfra writes the askpass script with ``host.run_shell_command``: not through pct exec."""
    [host] = pct_hosts(HOST)
    run(host, "true", _sudo=True, _sudo_password="s3cret")
    assert shlex.split(commands[0])[:2] == ["sh", "-c"] and " exec 101 " not in commands[0]


def test_sudo_password_reaches_sudo_on_the_node(commands):
    [host] = pct_hosts(HOST)
    run(host, "true", _sudo=True, _sudo_password="s3cret")
    assert shlex.split(commands[-1])[:7] == [
        "env", f"SUDO_ASKPASS={ASKPASS}", "PYINFRA_SUDO_PASSWORD=s3cret", "sudo", "-H", "-A", "-k",
    ]


def test_disconnect_removes_the_askpass_script_on_the_node(commands):
    [host] = pct_hosts(HOST)
    run(host, "true", _sudo=True, _sudo_password="s3cret")
    host.connector.disconnect()
    assert shlex.split(commands[-1]) == ["sh", "-c", f"rm -f {ASKPASS}"]


def test_connect_runs_pct_status_with_the_configured_sudo(commands):
    [host] = pct_hosts(HOST, config=Config(SUDO=True))
    host.connector.connect()
    assert node_words(commands[0]) == ["sudo", "-H", "-n", "pct", "status", "101"]


def test_put_file_pushes_with_sudo_and_stages_as_the_node_user(commands):
    [host] = pct_hosts(HOST)
    host.connector.put_file(io.BytesIO(b""), "/etc/x", remote_temp_filename="/tmp/up", _sudo=True)
    sudo = [node_words(command)[0] == "sudo" for command in commands]
    # mktemp, cp into the private directory, pct push, rm -rf, pct exec (check and install)
    assert sudo == [False, False, True, False, True]


def test_get_file_pulls_with_sudo_and_fetches_as_the_node_user(commands):
    [host] = pct_hosts(HOST)
    host.connector.get_file("/etc/x", io.BytesIO(), _sudo=True)
    sudo = [node_words(command)[0] == "sudo" for command in commands]
    # pct exec (sha256), mktemp, pct pull, cp out of the private directory, rm -rf
    assert sudo == [True, False, True, False, False]


def test_split_arguments_keeps_only_shell_arguments_for_the_container():
    shell, node = split_arguments({"_sudo": True, "_su_user": "root", "_env": {"A": "1"}, "_chdir": "/", "_timeout": 5})
    assert (shell, node) == ({"_env": {"A": "1"}, "_chdir": "/"}, {"_sudo": True, "_su_user": "root", "_timeout": 5})
