"""The lab's pct: Proxmox syntax, output and exit codes, over real LXC containers."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.lab.helpers import pct, wait_for
import containers
import ha
from rootfs import ensure_rootfs
from topology import Container, lab_containers

SCRATCH = Container(199, "lab-scratch", "scratch")
RUNNING = lab_containers()[0]


@pytest.fixture(scope="module")
def scratch(lab_inventory_ssh: Path):
    """A throwaway container for the destructive sub-commands, so the cluster's containers stay up."""
    containers.ensure_container(SCRATCH, ensure_rootfs(), [SCRATCH])
    if containers.state(SCRATCH.vmid) != "running":
        containers.start(SCRATCH.vmid)
    containers.wait_booted(SCRATCH.vmid)
    yield SCRATCH
    containers.destroy(SCRATCH.vmid)


def test_exec_returns_the_commands_exit_code(lab_inventory_ssh: Path) -> None:
    assert pct("exec", str(RUNNING.vmid), "--", "sh", "-c", "exit 7").returncode == 7


def test_exec_passes_stdin_through(lab_inventory_ssh: Path) -> None:
    assert pct("exec", str(RUNNING.vmid), "--", "cat", input=b"through stdin\n").stdout == b"through stdin\n"


def test_exec_without_command_fails_like_pct(lab_inventory_ssh: Path) -> None:
    result = pct("exec", str(RUNNING.vmid))
    assert (result.returncode, result.stderr.strip()) == (255, b"missing command")


def test_unknown_vmid_fails_like_pct(lab_inventory_ssh: Path) -> None:
    result = pct("status", "987")
    assert result.returncode == 255
    assert result.stderr.strip() == b"Configuration file 'nodes/lab/lxc/987.conf' does not exist"


def test_list_prints_pct_columns(lab_inventory_ssh: Path) -> None:
    lines = pct("list").stdout.decode().splitlines()
    assert lines[0].split() == ["VMID", "Status", "Lock", "Name"]
    assert f"{RUNNING.vmid:<10} {'running':<10} {'':<12} {RUNNING.name:<20}" in lines


def test_status_prints_running(lab_inventory_ssh: Path) -> None:
    assert pct("status", str(RUNNING.vmid)).stdout == b"status: running\n"


def test_config_prints_hostname_and_net(lab_inventory_ssh: Path) -> None:
    config = pct("config", str(RUNNING.vmid)).stdout.decode()
    assert f"hostname: {RUNNING.name}\n" in config and f"ip={RUNNING.ip}/24" in config


def test_push_then_pull_is_binary_safe(lab_inventory_ssh: Path, tmp_path: Path) -> None:
    payload = os.urandom(300_000) + bytes(range(256))
    source, back = tmp_path / "payload.bin", tmp_path / "back.bin"
    source.write_bytes(payload)
    assert pct("push", str(RUNNING.vmid), str(source), "/tmp/payload.bin", "--perms", "0640").returncode == 0
    assert pct("pull", str(RUNNING.vmid), "/tmp/payload.bin", str(back)).returncode == 0
    assert hashlib.sha256(back.read_bytes()).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_push_applies_perms(lab_inventory_ssh: Path, tmp_path: Path) -> None:
    source = tmp_path / "secret"
    source.write_text("x")
    pct("push", str(RUNNING.vmid), str(source), "/tmp/secret-perms", "--perms", "600")
    assert pct("exec", str(RUNNING.vmid), "--", "stat", "-c", "%a", "/tmp/secret-perms").stdout == b"600\n"


def test_pull_of_missing_file_exits_0_with_the_reason_on_stderr(lab_inventory_ssh: Path, tmp_path: Path) -> None:
    """As on Proxmox: the copy runs in a task whose failure does not reach pct's exit code."""
    result = pct("pull", str(RUNNING.vmid), "/nonexistent", str(tmp_path / "x"))
    assert (result.returncode, result.stderr.strip()) == (0, b"failed to open /nonexistent: No such file or directory")


def test_failed_pull_leaves_an_empty_destination(lab_inventory_ssh: Path, tmp_path: Path) -> None:
    pct("pull", str(RUNNING.vmid), "/nonexistent", str(tmp_path / "x"))
    assert (tmp_path / "x").read_bytes() == b""


def test_push_to_an_unwritable_path_exits_0_with_the_reason_on_stderr(lab_inventory_ssh: Path, tmp_path: Path) -> None:
    source = tmp_path / "payload"
    source.write_text("x")
    result = pct("push", str(RUNNING.vmid), str(source), "/nonexistent-dir/file")
    assert (result.returncode, result.stderr.strip()) == \
        (0, b"failed to create file: /nonexistent-dir/file: No such file or directory")


def test_confs_are_in_the_nodes_directory_with_lxc_a_link(lab_inventory_ssh: Path) -> None:
    assert os.readlink("/etc/pve/lxc") == "nodes/lab/lxc"
    assert Path(f"/etc/pve/nodes/lab/lxc/{RUNNING.vmid}.conf").exists()


def test_stop_then_start(scratch: Container) -> None:
    assert pct("stop", str(scratch.vmid)).returncode == 0
    assert pct("status", str(scratch.vmid)).stdout == b"status: stopped\n"
    assert pct("exec", str(scratch.vmid), "--", "true").returncode != 0
    assert pct("start", str(scratch.vmid)).returncode == 0
    assert containers.wait_booted(scratch.vmid) in ("running", "degraded")


def test_start_of_running_container_fails(scratch: Container) -> None:
    result = pct("start", str(scratch.vmid))
    assert (result.returncode, result.stderr.strip()) == (255, f"CT {scratch.vmid} already running".encode())


def test_shutdown_stops_cleanly(scratch: Container) -> None:
    assert pct("shutdown", str(scratch.vmid), "--timeout", "60").returncode == 0
    assert pct("status", str(scratch.vmid)).stdout == b"status: stopped\n"
    assert pct("start", str(scratch.vmid)).returncode == 0
    containers.wait_booted(scratch.vmid)


def test_reboot_loses_dev_kmsg(scratch: Container) -> None:
    fix = 'ln -sf /dev/console /dev/kmsg && test -e /dev/kmsg'
    assert pct("exec", str(scratch.vmid), "--", "sh", "-c", fix).returncode == 0
    assert pct("reboot", str(scratch.vmid)).returncode == 0
    containers.wait_booted(scratch.vmid)
    assert pct("exec", str(scratch.vmid), "--", "test", "-e", "/dev/kmsg").returncode == 1


def test_start_of_an_ha_managed_container_is_only_queued(scratch: Container) -> None:
    """As on Proxmox: `pct start` prints the HA request and exits 0; the container starts a CRM round later."""
    assert pct("stop", str(scratch.vmid)).returncode == 0
    ha.mark_ha_managed(scratch.vmid, state="stopped")
    try:
        result = pct("start", str(scratch.vmid))
        queued = pct("status", str(scratch.vmid)).stdout
        wait_for(f"CT {scratch.vmid} started by HA", lambda: pct("status", str(scratch.vmid)).stdout == b"status: running\n",
                 ha.START_DELAY + 20)
    finally:
        ha.unmark_ha_managed(scratch.vmid)
    assert (result.returncode, result.stdout, queued) == \
        (0, f"Requesting HA start for CT {scratch.vmid}\n".encode(), b"status: stopped\n")
    containers.wait_booted(scratch.vmid)
