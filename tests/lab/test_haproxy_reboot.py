"""A worker container rebooted under a request loop through HAProxy: its backend_rancher server
goes DOWN and comes back UP by itself, and Rancher stays reachable through the other nodes (a
request in flight on the worker at the instant its container stops may be cut: see the bench).
Rancher's and Traefik's pods are moved off the worker first: restart.py drains the node in HAProxy,
not in Kubernetes, and a rebooted node keeps its pods' endpoints until they run again or it is marked
NotReady, so requests routed to them through the other nodes' Traefik and svclb would fail, through
every HAProxy server: no load balancer hides that (the drain-first reboot is the upgrade's and host
maintenance's, tests/lab/day2)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.lab.helpers import REPO, rancher_path_moved_off, verify_until_green

WORKER, WORKER_VMID = "k3s-worker-1", "111"


def bench(*arguments: str) -> dict:
    """bench/haproxy_worker_reboot.py on k3s-worker-1, Rancher and Traefik moved off it; its JSON report."""
    rancher_path_moved_off(WORKER)
    result = subprocess.run([str(REPO / ".venv/bin/python"), str(REPO / "bench/haproxy_worker_reboot.py"),
                             "--vmid", WORKER_VMID, "--deadline", "300", *arguments],
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
