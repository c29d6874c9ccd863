"""A worker container rebooted under a request loop through HAProxy: its backend_rancher server
goes DOWN and comes back UP by itself, and Rancher stays reachable through the other nodes (a
request in flight on the worker at the instant its container stops may be cut: see the bench).
The worker rebooted is one that does not run the Rancher pod, and Traefik's pod is moved off it first
(with one replica each, rebooting the node that holds either takes Rancher's whole path away, through
every HAProxy server: no load balancer hides that)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.lab.helpers import REPO, single_replicas_moved_off, ssh, verify_until_green

CONTROL_IP = "10.213.0.101"
WORKERS = {"k3s-worker-1": "111", "k3s-worker-2": "112"}


def bench(*arguments: str) -> dict:
    """bench/haproxy_worker_reboot.py on the worker that does not run Rancher; its JSON report."""
    rancher_nodes = ssh(CONTROL_IP, "k3s kubectl -n cattle-system get pods -l app=rancher "
                                    "-o jsonpath='{.items[*].spec.nodeName}'").stdout.split()
    name, vmid = next((name, vmid) for name, vmid in WORKERS.items() if name not in rancher_nodes)
    single_replicas_moved_off(name)
    result = subprocess.run([str(REPO / ".venv/bin/python"), str(REPO / "bench/haproxy_worker_reboot.py"),
                             "--vmid", vmid, "--deadline", "300", *arguments],
                            capture_output=True, text=True, timeout=420)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def settled_cluster(inventory) -> None:
    settled = verify_until_green(inventory)
    assert settled.returncode == 0, settled.stdout[-3000:]


@pytest.fixture(scope="module")
def reboot_report(deployed_ssh, lab_inventory_ssh) -> dict:
    settled_cluster(lab_inventory_ssh)
    return bench()


@pytest.fixture(scope="module")
def planned_report(deployed_ssh, lab_inventory_ssh) -> dict:
    settled_cluster(lab_inventory_ssh)
    return bench("--planned")


def test_rebooted_workers_server_goes_down(reboot_report):
    assert reboot_report["server_down_after_s"] is not None


def test_rebooted_workers_server_comes_back_up(reboot_report):
    assert reboot_report["server_up_after_s"] > reboot_report["server_down_after_s"]


def test_rancher_stays_reachable_through_the_other_nodes_while_the_server_is_down(reboot_report):
    assert (reboot_report["sent_while_down"] > 0, reboot_report["failed_while_down"]) == (True, 0), reboot_report


def test_only_requests_in_flight_when_the_container_stopped_fail(reboot_report):
    """An unplanned reboot cuts established connections; none may fail after HAProxy took the server out."""
    late = [at for at in reboot_report["failed_at_s"] if at >= reboot_report["server_down_after_s"]]
    assert (late, len(reboot_report["failed_at_s"]) <= 2) == ([], True), reboot_report


def test_planned_reboot_through_restart_py_drains_first_and_fails_no_request(planned_report):
    assert (planned_report["server_down_after_s"] is not None, planned_report["server_up_after_s"] is not None,
            planned_report["requests"] > 0, planned_report["failed_at_s"]) == (True, True, True, []), planned_report
