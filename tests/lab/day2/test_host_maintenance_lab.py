"""Proxmox host maintenance on the lab (`python host_maintenance.py`, what `make host-maintenance` runs),
over the pct inventory (its `proxmox_hosts` are nodes lab and lab2).

Default lab: node lab2 holds k3s-worker-2 (vmid 112, lab/topology.py). The lab deploys Rancher with
two replicas and Traefik with two, each spread over the nodes and guarded by a PodDisruptionBudget
(minAvailable 1), so whichever of their pods run on k3s-worker-2 the drain evicts one at a time while
the other serves. With Rancher's /ping probed through HAProxy every 0.5 s the whole time (0 failures
expected): the maintenance of lab2 drains k3s-worker-2 and shuts its container down, the record in the
cluster names it, the node goes NotReady (the "reboot"), `DONE=1` starts it, it is Ready and
uncordoned, the record is gone and verify is green. The HA lab's refusal is tests/lab/test_ha_lab.py's.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time

import pytest
from inventories import RANCHER_HOSTNAME

from tasks.host_maintenance_rules import RECORD_NAME, RECORD_NAMESPACE, recorded
from tests.lab.helpers import (
    kubectl,
    pct,
    ready,
    run_host_maintenance,
    run_verify,
    unschedulable,
    wait_ready_state,
)
from verify import host_probe

HAPROXY_IP = "10.213.0.121"
PROBE_SECONDS = 0.5
WORKER, WORKER_VMID = "k3s-worker-2", "112"


def container_status(vmid: str) -> str:
    return pct("status", vmid).stdout.decode().strip()


def record(pve: str) -> list:
    return recorded(kubectl("-n", RECORD_NAMESPACE, "get", "configmap", RECORD_NAME, "--ignore-not-found", "-o", "json"), pve)


class RancherProbe:
    """Rancher's /ping through HAProxy every 0.5 s in a thread; each failure noted with its time."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.answers = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        while not self.stop.is_set():
            answer = host_probe.ping_result(HAPROXY_IP, 443, RANCHER_HOSTNAME)
            self.answers += 1
            if answer["body"].strip() != "pong":
                self.failures.append(f"{time.strftime('%H:%M:%S')} {answer['error'] or answer['body'][:80]}")
            time.sleep(PROBE_SECONDS)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture(scope="module")
def probe(deployed_ssh):
    running = RancherProbe()
    running.thread.start()
    yield running
    running.finish()


@pytest.fixture(scope="module")
def before(lab_inventory_pct, probe) -> subprocess.CompletedProcess:
    return run_host_maintenance(lab_inventory_pct, "lab2")


@pytest.fixture(scope="module")
def rebooted(before) -> None:
    """The node's "reboot": the container stays down until the controller marks its node NotReady."""
    wait_ready_state(WORKER, False, deadline=120)


@pytest.fixture(scope="module")
def after(rebooted, lab_inventory_pct, probe) -> subprocess.CompletedProcess:
    result = run_host_maintenance(lab_inventory_pct, "lab2", "--data", "maintenance_done=true")
    probe.finish()
    return result


def test_maintenance_of_lab2_drains_and_shuts_down_k3s_worker_2(before):
    assert before.returncode == 0, before.stdout[-3000:]
    assert ("node lab2 is ready for its reboot: shut down k3s-worker-2 (vmid 112); afterwards: make host-maintenance "
            "PVE=lab2 DONE=1") in before.stdout


def test_the_container_is_stopped(before):
    assert container_status(WORKER_VMID) == "status: stopped"


def test_the_node_stays_cordoned_and_recorded_in_the_cluster(before):
    assert unschedulable(WORKER)
    assert [guest.node for guest in record("lab2")] == [WORKER]


def test_done_brings_it_back_ready_and_uncordoned(after):
    assert after.returncode == 0, after.stdout[-3000:]
    assert "host maintenance of node lab2 done: its containers are back, uncordoned and verified" in after.stdout
    assert (container_status(WORKER_VMID), ready(WORKER), unschedulable(WORKER)) == ("status: running", "True", False)


def test_each_step_says_how_long_it_took(before, after):
    """The node's shutdown and its return, each timed (docs/OPERATIONS.md gives these times); shown with -rP."""
    down = re.findall(r"k3s-worker-2 \(vmid 112\) drained and shut down on lab2 in ([\d.]+)s", before.stdout)
    back = re.findall(r"k3s-worker-2 \(vmid 112\) back and uncordoned in ([\d.]+)s", after.stdout)
    print(f"k3s-worker-2 drained and shut down in {down}s, back and uncordoned in {back}s")
    assert (len(down), len(back)) == (1, 1)


def test_the_record_is_gone_after_done(after):
    assert record("lab2") == []


def test_rancher_answered_through_haproxy_throughout(after, probe):
    assert probe.answers > 0 and probe.failures == []


def test_verify_is_green_after_done(after, lab_inventory_ssh):
    result = run_verify(lab_inventory_ssh)
    assert result.returncode == 0, result.stdout[-3000:]
