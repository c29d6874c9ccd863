"""k3s runs KillMode=process (k3s docs, "Stopping K3s"): `systemctl restart k3s-agent` leaves the
node's containers running and the new kubelet adopts them, so the worker's svclb and Rancher pods keep
serving through HAProxy (0 failed requests, same container ids). A `pct reboot` of the container
still kills them (new container ids after it).

Rancher's pod is moved onto the worker first (the other nodes cordoned while it is replaced)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.lab.helpers import in_container, kubectl, pct, rancher_ca, verify_until_green, wait_for, wait_ready_state
from verify.rancher import ping_through

WORKER, VMID = "k3s-worker-1", "111"
OTHERS = ("k3s-control", "k3s-worker-2")
HAPROXY_IP, HOSTNAME = "10.213.0.121", "rancher.lab.test"


def worker_pods() -> dict[str, str]:
    """``namespace/name`` -> the first container's id, of the pods Running on the worker."""
    found = json.loads(kubectl("get", "pods", "-A", "--field-selector", f"spec.nodeName={WORKER}", "-o", "json")
                       or '{"items": []}')["items"]
    return {f"{pod['metadata']['namespace']}/{pod['metadata']['name']}":
            ((pod["status"].get("containerStatuses") or [{}])[0].get("containerID", ""))
            for pod in found if pod["status"].get("phase") == "Running"}


def rancher_on_worker() -> bool:
    return any(name.startswith("cattle-system/rancher") for name in worker_pods())


def requests_during(action, settle: float) -> tuple[int, int]:
    """Requests through HAProxy every 0.2 s while ``action`` runs and ``settle`` seconds after: (sent, failed)."""
    results: list[bool] = []
    stop = threading.Event()
    ca_pem = rancher_ca()

    def loop() -> None:
        while not stop.is_set():
            results.append(ping_through(HAPROXY_IP, HOSTNAME, ca_pem) == (200, "pong"))
            stop.wait(0.2)

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    try:
        action()
        time.sleep(settle)
    finally:
        stop.set()
        worker.join(timeout=30)
    return len(results), results.count(False)


@pytest.fixture(scope="module")
def rancher_moved_to_worker(deployed_ssh, lab_inventory_ssh):
    for node in (WORKER, *OTHERS):
        wait_ready_state(node, True, deadline=180)
    if not rancher_on_worker():
        for node in OTHERS:
            kubectl("cordon", node)
        try:
            kubectl("delete", "pods", "-n", "cattle-system", "-l", "app=rancher", "--wait=false")
            wait_for("Rancher running on the worker", rancher_on_worker, 120)
        finally:
            for node in OTHERS:
                kubectl("uncordon", node)
    assert verify_until_green(lab_inventory_ssh).returncode == 0
    return worker_pods()


@pytest.fixture(scope="module")
def agent_restart(rancher_moved_to_worker):
    """``systemctl restart k3s-agent`` under requests; (sent, failed) and the pods after it."""
    def restart() -> None:
        in_container(VMID, "systemctl restart k3s-agent")
        wait_ready_state(WORKER, True, deadline=120)

    sent, failed = requests_during(restart, settle=5)
    return sent, failed, worker_pods()


def test_agent_restart_fails_no_request_through_haproxy(agent_restart):
    sent, failed, _ = agent_restart
    assert (sent > 10, failed) == (True, 0), (sent, failed)


def test_agent_restart_keeps_the_pods_containers(rancher_moved_to_worker, agent_restart):
    assert agent_restart[2] == rancher_moved_to_worker


def test_container_reboot_replaces_the_pods_containers(rancher_moved_to_worker, agent_restart, lab_inventory_ssh):
    before = agent_restart[2]
    assert pct("reboot", VMID).returncode == 0

    def all_replaced() -> bool:
        after = worker_pods()
        return set(after) == set(before) and all(after[name] != before[name] for name in before)

    wait_for("every pod of the worker running in a new container", all_replaced, 180)
    assert verify_until_green(lab_inventory_ssh).returncode == 0
