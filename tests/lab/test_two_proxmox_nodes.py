"""Two Proxmox nodes in the lab: node lab (this machine) and node lab2 (its own sshd on loopback),
each with a pct that sees only its own containers. The cluster is deployed and verified over the pct
inventory; then 112 k3s-worker-2 migrates from lab2 to lab (as `pct migrate --restart` does) while
the inventory still names lab2, and deploy, repair and verify still reach it. The module's teardown
migrates it back."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.lab.helpers import KNOWN_HOSTS, LAB, PCT, REPO, SSH_KEY, pct, run_pyinfra, verify_until_green, wait_ready_state
from ssh_keys import SSH_CONFIG
from topology import HOST_IP, LAB_NODE, SSH_NODE, SSH_NODE_ADDRESS, SSH_NODE_PORT

MIGRATING, MIGRATING_NODE = "112", "k3s-worker-2"


def on_lab2(command: str, known_hosts: Path = KNOWN_HOSTS) -> subprocess.CompletedProcess:
    """A command on node lab2, over SSH as the inventory reaches it (strict host key checking)."""
    return subprocess.run(
        ["ssh", "-p", str(SSH_NODE_PORT), "-i", str(SSH_KEY), "-o", f"UserKnownHostsFile={known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
         f"root@{SSH_NODE_ADDRESS}", command],
        capture_output=True, text=True, timeout=120,
    )


def listed(output: str) -> list[str]:
    """The vmids of `pct list` output."""
    return [line.split()[0] for line in output.splitlines()[1:]]


def lab_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv/bin/python"), str(LAB / "lab.py"), *arguments],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def deployed_pct(lab_inventory_pct: Path) -> subprocess.CompletedProcess:
    result = run_pyinfra(lab_inventory_pct, "deploy.py")
    assert result.returncode == 0, result.stdout[-3000:]
    return result


def test_deploy_over_both_nodes_verifies_green(deployed_pct, lab_inventory_pct):
    result = verify_until_green(lab_inventory_pct)
    assert result.returncode == 0, result.stdout[-3000:]


def test_pct_on_lab_does_not_list_lab2s_container(lab_inventory_pct):
    assert MIGRATING not in listed(pct("list").stdout.decode())


def test_pct_on_lab2_over_ssh_lists_only_its_container(lab_inventory_pct):
    assert listed(on_lab2(f"{PCT} list").stdout) == [MIGRATING]


def test_lab2s_etc_pve_lxc_is_its_own_conf_directory(lab_inventory_pct):
    assert on_lab2("readlink /etc/pve/lxc").stdout.strip() == f"nodes/{SSH_NODE}/lxc"


def test_lab2s_sshd_refuses_an_unknown_host_key(lab_inventory_pct, tmp_path):
    (tmp_path / "known_hosts").write_text("")
    result = on_lab2("true", known_hosts=tmp_path / "known_hosts")
    assert (result.returncode, "Host key verification failed" in result.stderr) == (255, True)


def test_lab2s_sshd_does_not_listen_on_the_lab_bridge(lab_inventory_pct):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST_IP, SSH_NODE_PORT), timeout=5).close()


def test_verify_reaches_lab2_by_host_spec_with_the_labs_ssh_config(deployed_pct):
    result = subprocess.run(
        [str(REPO / ".venv/bin/python"), "-m", "pytest", "verify/", "-q", "-p", "no:cacheprovider",
         f"--hosts=pct://101@local,pct://111@local,pct://{MIGRATING}@{SSH_NODE},pct://121@local",
         f"--ssh-config={SSH_CONFIG}", "--rancher-hostname=rancher.lab.test"],
        cwd=REPO, env={"PCT_COMMAND": str(PCT), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]


def test_lab_status_shows_each_containers_node(lab_inventory_pct):
    rows = {line.split()[0]: line.split()[3] for line in lab_cli("status").stdout.splitlines() if line[:3].isdigit()}
    assert (rows["101"], rows[MIGRATING]) == (LAB_NODE, SSH_NODE)


@pytest.fixture(scope="module")
def migrated(deployed_pct):
    """112 on node lab for the rest of the module (the inventories still say lab2); back at the end."""
    result = lab_cli("migrate", MIGRATING, LAB_NODE)
    assert result.returncode == 0, result.stdout + result.stderr
    yield
    back = lab_cli("migrate", MIGRATING, SSH_NODE)
    assert back.returncode == 0, back.stdout + back.stderr
    wait_ready_state(MIGRATING_NODE, True, deadline=180)


def test_migrated_container_is_listed_by_the_target_node_only(migrated):
    assert (MIGRATING in listed(pct("list").stdout.decode()), listed(on_lab2(f"{PCT} list").stdout)) == (True, [])


def test_deploy_reaches_the_migrated_container_through_its_new_node(migrated, lab_inventory_pct):
    result = run_pyinfra(lab_inventory_pct, "deploy.py")
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"container is on node {LAB_NODE}, not on node {SSH_NODE}" in result.stdout


def test_repair_after_the_migration_leaves_the_cluster_healthy(migrated, lab_inventory_pct, tmp_path):
    wait_ready_state(MIGRATING_NODE, True, deadline=180)
    result = subprocess.run(
        [str(REPO / ".venv/bin/python"), "repair.py", "-y", "--data", f"repair_state_file={tmp_path}/state.json"],
        cwd=REPO, env={**os.environ, "K3S_INVENTORY": str(lab_inventory_pct), "PATH": f"{REPO}/.venv/bin:{os.environ['PATH']}"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )
    assert result.returncode in (0, 10), result.stdout[-3000:]


def test_verify_is_green_after_the_migration(migrated, lab_inventory_pct):
    result = verify_until_green(lab_inventory_pct)
    assert result.returncode == 0, result.stdout[-3000:]
