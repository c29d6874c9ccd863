"""The node watcher on the lab: stale taints on a Ready node are removed by the timer; a worker
with its k3s-agent stopped keeps its taints and is reported (exit status 30)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from tests.lab.helpers import ssh
from facts.names import WATCHED_TAINT_KEYS

CONTROL_IP = "10.213.0.101"
FAULTS = "/var/lib/rancher/k3s/server/standin-faults"
WATCHED = WATCHED_TAINT_KEYS
TIMER_PERIOD = 30  # the lab inventory's watcher_interval
UNREACHABLE = ["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]
# A restarted kubelet posts Ready=False before Ready=True, so the controller swaps unreachable for
# not-ready on the way back: with the stale-taint fault either set can be what is left on the Ready node.
NOT_READY = ["node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/not-ready:NoSchedule"]


def node(name: str) -> dict:
    result = ssh(CONTROL_IP, f"k3s kubectl get node {name} -o json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def ready(item: dict) -> str:
    return next(c["status"] for c in item["status"]["conditions"] if c["type"] == "Ready")


def watched_taints(item: dict) -> list[str]:
    return sorted(f"{t['key']}:{t['effect']}" for t in item["spec"].get("taints", []) if t["key"] in WATCHED)


def wait_for(what: str, check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds:.0f} s")
        time.sleep(2)


def log_lines_since(offset: int) -> list[str]:
    return ssh(CONTROL_IP, f"tail -c +{offset + 1} /var/log/k3s-node-watcher.log").stdout.splitlines()


def log_size() -> int:
    return int(ssh(CONTROL_IP, "stat -c %s /var/log/k3s-node-watcher.log").stdout.strip() or 0)


@pytest.fixture(scope="module")
def stale_taints_repaired(deployed_ssh) -> Iterator[dict]:
    """With the stand-in's stale-taint fault on, make k3s-worker-2 unreachable and bring it back:
    it is Ready with unreachable taints left. Then leave it to the timer."""
    worker = "10.213.0.112"
    assert ssh(CONTROL_IP, f"echo stale-taints > {FAULTS}").returncode == 0
    try:
        ssh(worker, "systemctl stop k3s-agent")
        wait_for("k3s-worker-2 tainted unreachable", lambda: watched_taints(node("k3s-worker-2")) == UNREACHABLE, 90)
        ssh(worker, "systemctl start k3s-agent")
        wait_for("k3s-worker-2 Ready", lambda: ready(node("k3s-worker-2")) == "True", 90)
        offset = log_size()
        tainted_when_ready = watched_taints(node("k3s-worker-2"))
        repaired_at = time.monotonic()
        wait_for("stale taints removed by the watcher timer", lambda: not watched_taints(node("k3s-worker-2")),
                 TIMER_PERIOD + 20)
        yield {"tainted_when_ready": tainted_when_ready, "seconds": time.monotonic() - repaired_at,
               "log": log_lines_since(offset)}
    finally:
        ssh(CONTROL_IP, f"rm -f {FAULTS}")
        ssh(worker, "systemctl start k3s-agent")


def test_fault_leaves_stale_taints_on_a_ready_node(stale_taints_repaired) -> None:
    assert stale_taints_repaired["tainted_when_ready"] in (UNREACHABLE, NOT_READY)


def test_watcher_timer_removes_stale_taints_within_one_period(stale_taints_repaired) -> None:
    assert stale_taints_repaired["seconds"] <= TIMER_PERIOD + 20


def test_removal_is_logged_with_node_taint_reason_and_outcome(stale_taints_repaired) -> None:
    stale = stale_taints_repaired["tainted_when_ready"][0]
    assert any(f"node=k3s-worker-2 taint={stale} reason=stale-on-ready-node" in line
               and "outcome=removed" in line for line in stale_taints_repaired["log"])


@pytest.fixture(scope="module")
def stopped_agent(deployed_ssh) -> Iterator[dict]:
    """k3s-worker-1 with k3s-agent stopped until NotReady and tainted; one watcher run on top."""
    worker = "10.213.0.111"
    ssh(worker, "systemctl stop k3s-agent")
    try:
        wait_for("k3s-worker-1 NotReady and tainted",
                 lambda: ready(item := node("k3s-worker-1")) != "True" and watched_taints(item) == UNREACHABLE, 90)
        offset = log_size()
        ssh(CONTROL_IP, "systemctl start k3s-node-watcher.service")
        status = ssh(CONTROL_IP, "systemctl show -p ExecMainStatus --value k3s-node-watcher.service").stdout.strip()
        yield {"taints": watched_taints(node("k3s-worker-1")), "status": status, "log": log_lines_since(offset)}
    finally:
        ssh(worker, "systemctl start k3s-agent")
        wait_for("k3s-worker-1 Ready again", lambda: ready(node("k3s-worker-1")) == "True", 90)


def test_not_ready_worker_keeps_its_taints(stopped_agent) -> None:
    assert stopped_agent["taints"] == UNREACHABLE


def test_not_ready_worker_is_reported_in_the_log(stopped_agent) -> None:
    assert any(line.startswith(tuple("0123456789")) and "node=k3s-worker-1" in line and "outcome=kept" in line
               and "since=" in line for line in stopped_agent["log"])


def test_not_ready_worker_sets_exit_status_30(stopped_agent) -> None:
    assert stopped_agent["status"] == "30"
