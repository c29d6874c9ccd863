"""verify/ on the deployed lab: green over SSH and over pct, and green again after each restart mode."""

from __future__ import annotations

import subprocess

from ssh_keys import SSH_CONFIG
from tests.lab.helpers import REPO, run_pyinfra, run_verify
from topology import SSH_NODE


def test_verify_is_green_over_ssh(deployed_ssh, lab_inventory_ssh, tmp_path):
    result = run_verify(lab_inventory_ssh, f"--junitxml={tmp_path / 'junit.xml'}")
    assert result.returncode == 0, result.stdout[-4000:]


def test_verify_writes_junit_xml(deployed_ssh, lab_inventory_ssh, tmp_path):
    run_verify(lab_inventory_ssh, "-k", "haproxy_is_active", f"--junitxml={tmp_path / 'junit.xml'}")
    assert "<testsuite" in (tmp_path / "junit.xml").read_text()


def test_verify_is_green_over_pct(deployed_ssh, lab_inventory_pct):
    result = run_verify(lab_inventory_pct)
    assert result.returncode == 0, result.stdout[-4000:]


def test_verify_is_green_over_pct_host_specs(deployed_ssh):
    """112 is on node lab2, reached over SSH by the name lab/ssh/config gives it."""
    result = subprocess.run(
        [str(REPO / ".venv/bin/python"), "-m", "pytest", "verify/", "-q", "-p", "no:cacheprovider",
         f"--hosts=pct://101@local,pct://111@local,pct://112@{SSH_NODE},pct://121@local",
         f"--ssh-config={SSH_CONFIG}", "--rancher-hostname=rancher.lab.test"],
        cwd=REPO, env={"PCT_COMMAND": str(REPO / "lab/bin/pct"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]


def test_service_restart_then_verify_is_green(deployed_ssh, lab_inventory_ssh):
    result = run_pyinfra(lab_inventory_ssh, "restart.py")
    assert result.returncode == 0, result.stdout[-4000:]


def test_worker_container_reboot_then_verify_is_green(deployed_ssh, lab_inventory_pct):
    result = run_pyinfra(lab_inventory_pct, "restart.py", "--data", "restart_mode=container",
                         "--data", "restart_nodes=k3s-worker-1")
    assert result.returncode == 0, result.stdout[-4000:]


def test_all_containers_rebooted_at_once_then_verify_is_green(deployed_ssh, lab_inventory_pct):
    result = run_pyinfra(lab_inventory_pct, "restart.py", "--data", "restart_mode=container",
                         "--data", "restart_serial=false")
    assert result.returncode == 0, result.stdout[-4000:]


def test_container_mode_on_ssh_hosts_is_a_one_line_data_error(deployed_ssh, lab_inventory_ssh):
    result = run_pyinfra(lab_inventory_ssh, "restart.py", "--data", "restart_mode=container",
                         "--data", "restart_verify=false")
    assert "field pct_vmid: restart_mode container needs a pct host" in result.stdout
