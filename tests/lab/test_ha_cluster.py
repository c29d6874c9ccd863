"""The HA lab (LAB_TOPOLOGY=ha: three servers on embedded etcd, the API behind HAProxy) end to end:
fresh deploy, a second deploy change-free, verify green, restarts in both modes with a snapshot
taken first, one server's container reboot with the API answering through HAProxy throughout.

Run with `make test-ha` (a fresh HA lab, then these tests); `make test` skips them. They run in file
order on one cluster: the deploy first, the reboot last.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.lab.helpers import LAB, REPO, changed_operations, in_container, pct, run_pyinfra, run_verify, verify_until_green
from topology import inventory_name, topology
from verify.kube import write_kubeconfig

pytestmark = pytest.mark.skipif(topology() != "ha", reason="needs the HA lab: make test-ha")

HAPROXY_IP = "10.213.0.121"
PROBE_SECONDS = 0.5


@pytest.fixture(scope="module")
def ha_ssh() -> Path:
    path = LAB / inventory_name("ssh")
    assert path.exists(), "the HA lab is not up: make lab-up LAB_TOPOLOGY=ha"
    return path


@pytest.fixture(scope="module")
def ha_pct(ha_ssh: Path) -> Path:
    return LAB / inventory_name("pct")


@pytest.fixture(scope="module")
def deployed(ha_ssh: Path) -> subprocess.CompletedProcess:
    result = run_pyinfra(ha_ssh, "deploy.py")
    assert result.returncode == 0, result.stdout[-3000:]
    return result


def test_fresh_deploy_then_a_second_one_changes_nothing(deployed, ha_ssh):
    again = run_pyinfra(ha_ssh, "deploy.py")
    assert again.returncode == 0, again.stdout[-3000:]
    assert changed_operations(again.stdout) == []


def test_preflight_warns_that_two_members_share_node_lab(deployed):
    assert "k3s-control, k3s-control-3 on Proxmox node lab" in deployed.stdout


def test_verify_is_green(deployed, ha_ssh):
    result = run_verify(ha_ssh)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "test_etcd_member_is_healthy" in run_verify(ha_ssh, "-v", "-k", "etcd").stdout


@pytest.mark.parametrize("mode", ["service", "container"])
def test_restart_takes_a_snapshot_and_stays_green(deployed, ha_pct, mode):
    result = run_pyinfra(ha_pct, "restart.py", "--data", f"restart_mode={mode}", timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:]
    listing = in_container("101", "k3s etcd-snapshot ls").stdout.decode()
    assert "pre-restart-" in listing, listing


def test_quorum_losing_restart_is_refused(deployed, ha_pct):
    result = run_pyinfra(ha_pct, "restart.py", "--data", "restart_serial=false")
    assert result.returncode != 0
    assert "loses etcd's quorum" in result.stdout


def api_probe_failures(kubeconfig: str, stop: threading.Event, failures: list[str]) -> None:
    """`kubectl get nodes` through HAProxy every 0.5 s until ``stop``; each failure noted."""
    while not stop.is_set():
        done = subprocess.run([str(REPO / ".venv/bin/kubectl"), "--kubeconfig", kubeconfig, "get", "nodes",
                               "--request-timeout=5s"], capture_output=True, text=True)
        if done.returncode != 0:
            failures.append(done.stderr.strip()[-200:])
        time.sleep(PROBE_SECONDS)


def test_one_servers_reboot_keeps_the_api_answering_through_haproxy(deployed, ha_ssh):
    kubeconfig_text = in_container("101", "cat /etc/rancher/k3s/k3s.yaml").stdout.decode()
    with tempfile.TemporaryDirectory() as directory:
        kubeconfig = write_kubeconfig(kubeconfig_text, HAPROXY_IP, directory)
        stop, failures = threading.Event(), []
        probe = threading.Thread(target=api_probe_failures, args=(kubeconfig, stop, failures))
        probe.start()
        try:
            assert pct("reboot", "102").returncode == 0
            green = verify_until_green(ha_ssh, deadline=300)
        finally:
            stop.set()
            probe.join()
    assert green.returncode == 0, green.stdout[-3000:]
    assert failures == []
