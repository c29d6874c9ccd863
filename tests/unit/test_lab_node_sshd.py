"""Node lab2's sshd without starting one: its config, its /etc/pve view (in a private mount
namespace of a tmp tree, when this machine allows one) and how the lab recognises its process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import containers
import node_sshd


HOST_KEY = Path("/var/lib/k3s-lab/hostkeys/node-lab2/ssh_host_ed25519_key")


def config_lines() -> list[str]:
    return node_sshd.sshd_config(HOST_KEY).splitlines()


def test_sshd_listens_only_on_loopback_port_2222():
    assert [line for line in config_lines() if line.startswith(("ListenAddress", "Port"))] == ["ListenAddress 127.0.0.1:2222"]


def test_sshd_sessions_play_node_lab2():
    assert "SetEnv LAB_PVE_NODE=lab2" in config_lines()


def test_sshd_takes_keys_only():
    assert {"PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password"} <= set(config_lines())


def test_sshd_uses_the_nodes_own_host_key_and_authorized_keys():
    assert {f"HostKey {HOST_KEY}", f"AuthorizedKeysFile {node_sshd.AUTHORIZED_KEYS}"} <= set(config_lines())


def test_sshd_runs_in_a_private_mount_namespace():
    assert node_sshd.start_command()[:5] == ["unshare", "--mount", "--propagation", "private", "--"]


def test_missing_sshd_fails_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(node_sshd, "SSHD", tmp_path / "sshd")
    with pytest.raises(SystemExit, match=f"^lab: field sshd: {tmp_path}/sshd not found: install Debian's openssh-server"):
        node_sshd.require_sshd()


def test_a_pid_file_naming_another_process_is_not_the_nodes_sshd(monkeypatch, tmp_path):
    monkeypatch.setattr(node_sshd, "PID_FILE", tmp_path / "sshd.pid")
    (tmp_path / "sshd.pid").write_text(f"{os.getpid()}\n")
    assert node_sshd.running_pid() is None


def pve_tree(root: Path, lxc_target: str) -> Path:
    for node in ("lab", "lab2"):
        (root / "nodes" / node / "lxc").mkdir(parents=True)
    (root / "nodes" / "lab2" / "lxc" / "112.conf").write_text("hostname: k3s-worker-2\n")
    (root / "ha").mkdir()
    (root / "lxc").symlink_to(lxc_target)
    return root


def test_view_of_a_process_whose_etc_pve_is_lab2s_is_current(monkeypatch, tmp_path):
    monkeypatch.setattr(containers, "PVE_ROOT", pve_tree(tmp_path / "pve", "nodes/lab2/lxc"))
    assert node_sshd.view_is_current(os.getpid())


def test_view_of_a_process_whose_etc_pve_is_labs_is_stale(monkeypatch, tmp_path):
    monkeypatch.setattr(containers, "PVE_ROOT", pve_tree(tmp_path / "pve", "nodes/lab/lxc"))
    assert not node_sshd.view_is_current(os.getpid())


def test_namespace_lays_lab2s_view_over_etc_pve(tmp_path):
    """The namespace script itself, over a tmp "/etc/pve", with `sh` in place of sshd."""
    pve = pve_tree(tmp_path / "pve", "nodes/lab/lxc")
    view = tmp_path / "view"
    (view / "nodes").mkdir(parents=True)
    (view / "ha").mkdir()
    (view / "lxc").symlink_to("nodes/lab2/lxc")
    command = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", node_sshd.NAMESPACE_SCRIPT,
               "test", str(pve), str(view), "/bin/sh", "-c", f'readlink {pve}/lxc; ls {pve}/lxc/']
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 and result.stderr.startswith("unshare:"):
        pytest.skip(f"no private mount namespace here: {result.stderr.strip()}")
    assert (result.stdout, os.readlink(pve / "lxc")) == ("nodes/lab2/lxc\n112.conf\n", "nodes/lab/lxc")
