"""The @pct connector on the lab's containers: exact bytes both ways, exit codes, stdin, errors,
failed copies that pct reports with exit 0, and a container that is not on the inventory's node."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
from pathlib import Path

import pytest
from pyinfra.api import Config, Inventory, State, StringCommand
from pyinfra.api.connect import connect_all
from pyinfra.api.exceptions import ConnectError

from tests.lab.helpers import PCT, REPO

VMID = 121
HOST_NAME = f"@pct/lab/{VMID}"
PREFIX = f"host {HOST_NAME} (vmid {VMID} on node lab): "
TRICKY_LINES = [
    "it's \"quoted\"",
    "$HOME `id -u` $(id -u) ${PATH}",
    "back\\slash \\n \\\\",
    "grüße ☃ ünïcödé",
    "; rm -rf / # && || | > <",
]


@pytest.fixture(scope="module")
def pct_host(lab_inventory_pct):
    inventory = Inventory(([HOST_NAME], {"pct_command": str(PCT)}))
    state = State(inventory, Config())
    connect_all(state)
    host = inventory.get_host(HOST_NAME)
    assert host.connected, f"{HOST_NAME} did not connect"
    return host


def run(host, command: str, **arguments):
    return host.run_shell_command(StringCommand(command), **arguments)


@pytest.mark.parametrize("line", TRICKY_LINES)
def test_command_arguments_arrive_byte_exact(pct_host, line):
    quoted = line.replace("'", "'\"'\"'")
    ok, output = run(pct_host, f"printf '%s' '{quoted}'")
    assert (ok, output.stdout) == (True, line)


def test_multiline_command_runs_every_line(pct_host):
    ok, output = run(pct_host, "echo one\necho two")
    assert output.stdout_lines == ["one", "two"]


def test_exit_code_of_the_container_command_is_kept(pct_host):
    ok, _ = run(pct_host, "exit 7", _success_exit_codes=[7])
    assert ok is True


def test_failing_command_is_a_failure(pct_host):
    ok, _ = run(pct_host, "exit 3")
    assert ok is False


def test_stdin_reaches_the_container_command(pct_host):
    ok, output = run(pct_host, "sha256sum", _stdin="grüße\nline two")
    assert output.stdout.split()[0] == hashlib.sha256("grüße\nline two\n".encode()).hexdigest()


def test_env_argument_is_exported_exactly(pct_host):
    ok, output = run(pct_host, 'printf %s "$TRICKY"', _env={"TRICKY": "a'b $c \\d"})
    assert output.stdout == "a'b $c \\d"


def test_runs_inside_the_container(pct_host):
    ok, output = run(pct_host, "hostname")
    assert output.stdout == "haproxy"


def test_binary_file_round_trip_keeps_every_byte(pct_host):
    payload = os.urandom(256 * 1024) + bytes(range(256))
    pct_host.put_file(io.BytesIO(payload), "/tmp/pct-connector-binary")
    fetched = io.BytesIO()
    pct_host.get_file("/tmp/pct-connector-binary", fetched)
    assert hashlib.sha256(fetched.getvalue()).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_uploaded_file_matches_inside_the_container(pct_host):
    payload = "secret: grüße 'x' $y\n".encode()
    pct_host.put_file(io.BytesIO(payload), "/tmp/pct-connector-text")
    ok, output = run(pct_host, "sha256sum /tmp/pct-connector-text")
    assert output.stdout.split()[0] == hashlib.sha256(payload).hexdigest()


def test_upload_keeps_the_mode_of_an_existing_file(pct_host):
    run(pct_host, "rm -f /tmp/pct-connector-mode && touch /tmp/pct-connector-mode && chmod 640 /tmp/pct-connector-mode")
    pct_host.put_file(io.BytesIO(b"new content\n"), "/tmp/pct-connector-mode")
    ok, output = run(pct_host, "stat -c %a /tmp/pct-connector-mode")
    assert output.stdout == "640"


def test_upload_leaves_no_temporary_file_in_the_container(pct_host):
    pct_host.put_file(io.BytesIO(b"x"), "/tmp/pct-connector-temp")
    ok, output = run(pct_host, "ls /tmp | grep -c '^pyinfra-' || true")
    assert output.stdout == "0"


def test_download_of_a_missing_file_names_host_and_path(pct_host):
    with pytest.raises(OSError) as error:
        pct_host.get_file("/nonexistent/file", io.BytesIO())
    assert str(error.value) == \
        f"{PREFIX}cannot read /nonexistent/file: sha256sum: /nonexistent/file: No such file or directory"


def test_upload_to_an_unwritable_path_names_host_and_path(pct_host):
    with pytest.raises(OSError, match=rf"^{re.escape(PREFIX)}cannot write /nonexistent-dir/file: .+"):
        pct_host.put_file(io.BytesIO(b"x"), "/nonexistent-dir/file")


def test_upload_whose_pct_push_fails_names_host_and_path(pct_host):
    """pct push exits 0 when it cannot create the file: the connector finds out from what arrived."""
    with pytest.raises(OSError) as error:
        pct_host.put_file(io.BytesIO(b"x"), "/tmp/pct-connector-kept", remote_temp_filename="/nonexistent-dir/temp")
    assert str(error.value) == (f"{PREFIX}cannot write /tmp/pct-connector-kept: "
                                "failed to create file: /nonexistent-dir/temp: No such file or directory")


def test_failed_upload_keeps_the_file_it_would_replace(pct_host):
    pct_host.put_file(io.BytesIO(b"good\n"), "/tmp/pct-connector-kept")
    with pytest.raises(OSError):
        pct_host.put_file(io.BytesIO(b"new\n"), "/tmp/pct-connector-kept", remote_temp_filename="/nonexistent-dir/temp")
    ok, output = run(pct_host, "cat /tmp/pct-connector-kept")
    assert output.stdout == "good"


def pct_of_node(tmp_path: Path, node: str) -> Path:
    """The lab's pct playing Proxmox node ``node``, which holds none of the lab's containers."""
    wrapper = tmp_path / f"pct-{node}"
    wrapper.write_text(f'#!/bin/sh\nLAB_PVE_NODE={node} exec {PCT} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_container_on_another_node_fails_naming_both_nodes(lab_inventory_pct, tmp_path):
    inventory = Inventory(([(f"@pct/pve-gone/{VMID}", {"pct_command": str(pct_of_node(tmp_path, "pve-gone"))})], {}))
    State(inventory, Config())
    with pytest.raises(ConnectError) as error:
        inventory.get_host(f"@pct/pve-gone/{VMID}").connector.connect()
    assert str(error.value) == (f"host @pct/pve-gone/{VMID} (vmid {VMID} on node pve-gone): container is on node lab, "
                                "not on node pve-gone: set pct_node and pct_ssh_* to lab's")


def test_container_on_another_node_is_reached_with_that_nodes_inventory_data(lab_inventory_pct, tmp_path):
    stale = f"@pct/pve-gone/{VMID}"
    inventory = Inventory(([(stale, {"pct_command": str(pct_of_node(tmp_path, "pve-gone"))}),
                            ("@pct/lab/101", {"pct_command": str(PCT)})], {}))
    State(inventory, Config())
    host = inventory.get_host(stale)
    host.connector.connect()
    ok, output = run(host, "hostname")
    assert (output.stdout, host.connector.node.name) == ("haproxy", "lab")


def pyinfra_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(REPO / ".venv/bin/pyinfra"), "-y", *arguments],
        cwd="/tmp", capture_output=True, text=True, timeout=120,
    )


def test_cli_runs_through_the_entry_point(lab_inventory_pct):
    result = pyinfra_cli(f"@pct/lab/{VMID}", "--data", f"pct_command={PCT}", "exec", "--", "echo", "hi from pct")
    assert (result.returncode, "hi from pct" in result.stdout + result.stderr) == (0, True)


def test_unknown_vmid_is_one_line_naming_host_and_vmid(lab_inventory_pct):
    result = pyinfra_cli("@pct/lab/999", "--data", f"pct_command={PCT}", "exec", "--", "true")
    assert "host @pct/lab/999 (vmid 999 on node lab): Configuration file" in result.stdout + result.stderr
