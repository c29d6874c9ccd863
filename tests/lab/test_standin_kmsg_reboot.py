"""The stand-in on the lab, as issue 3 asks: a worker whose unit lacks the kmsg fix is rebooted with
`pct reboot` and stays NotReady with k3s's exact kubelet error; the node lifecycle controller taints
it unreachable, Rancher's pod is evicted from it after its toleration (30 s in the lab) and runs
elsewhere, and its svclb port does not answer. With /dev/kmsg back and the agent restarted it is
Ready again and the taints go away.

Rancher's pods are moved onto the worker first (the other nodes cordoned while they are replaced),
so the eviction is of a pod that really ran there. Needs a deployed lab; restores the unit after."""

from __future__ import annotations

import json
import time

import pytest

from tests.lab.helpers import in_container, kubectl, pct, wait_for, wait_ready_state

WORKER, VMID, WORKER_IP = "k3s-worker-1", "111", "10.213.0.111"
OTHERS = ("k3s-control", "k3s-worker-2")
AGENT_UNIT = "/etc/systemd/system/k3s-agent.service"
KUBELET_ERROR = ("Error: failed to run Kubelet: failed to create kubelet: "
                 "open /dev/kmsg: no such file or directory")
UNREACHABLE = "node.kubernetes.io/unreachable"
HAPROXY_VMID = "121"


def rancher_pods() -> list[dict]:
    return json.loads(kubectl("get", "pods", "-n", "cattle-system", "-l", "app=rancher", "-o", "json") or '{"items": []}')["items"]


def running_rancher_nodes() -> list[str]:
    return [pod["spec"].get("nodeName", "") for pod in rancher_pods()
            if pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")]


def taints(node: str) -> set[tuple[str, str]]:
    spec = json.loads(kubectl("get", "node", node, "-o", "json"))["spec"]
    return {(taint["key"], taint["effect"]) for taint in spec.get("taints") or []}


def svclb_port_answers() -> bool:
    """From the HAProxy container, whether the worker's Rancher port accepts a connection."""
    probe = f"python3 -c 'import socket; socket.create_connection((\"{WORKER_IP}\", 443), timeout=3)'"
    return pct("exec", HAPROXY_VMID, "--", "sh", "-c", probe).returncode == 0


@pytest.fixture(scope="module")
def rebooted_without_fix(deployed_ssh):
    """Rancher on the worker only (its replicas there, preferred anti-affinity giving way), the
    worker's kmsg line removed, then ``pct reboot``; restored after."""
    for node in (WORKER, *OTHERS):
        wait_ready_state(node, True, deadline=180)
    if set(running_rancher_nodes()) != {WORKER}:
        for node in OTHERS:
            kubectl("cordon", node)
        try:
            kubectl("delete", "pods", "-n", "cattle-system", "-l", "app=rancher", "--wait=false")
            wait_for("Rancher running on the worker only", lambda: set(running_rancher_nodes()) == {WORKER}, 120)
        finally:
            for node in OTHERS:
                kubectl("uncordon", node)
    in_container(VMID, f"cp {AGENT_UNIT} {AGENT_UNIT}.standin-test && sed -i '/dev\\/kmsg/d' {AGENT_UNIT} "
                       "&& systemctl daemon-reload")
    rebooted_at = time.monotonic()
    assert pct("reboot", VMID).returncode == 0
    yield rebooted_at
    in_container(VMID, f"if [ -f {AGENT_UNIT}.standin-test ]; then mv {AGENT_UNIT}.standin-test {AGENT_UNIT}; "
                       "systemctl daemon-reload; fi; [ -e /dev/kmsg ] || ln -sf /dev/console /dev/kmsg; "
                       "systemctl restart k3s-agent")
    wait_ready_state(WORKER, True, deadline=180)


def test_worker_stays_not_ready_with_the_kubelet_error_in_its_journal(rebooted_without_fix):
    wait_ready_state(WORKER, False, deadline=120)
    journal = in_container(VMID, "journalctl -u k3s-agent -b --no-pager").stdout.decode()
    assert (KUBELET_ERROR in journal, "active" == pct("exec", VMID, "--", "systemctl", "is-active", "k3s-agent")
            .stdout.decode().strip()) == (True, False)


def test_worker_gets_both_unreachable_taints(rebooted_without_fix):
    wait_for("unreachable NoSchedule and NoExecute taints",
             lambda: {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")} <= taints(WORKER), 120)


def test_svclb_port_of_the_worker_does_not_answer(rebooted_without_fix):
    wait_ready_state(WORKER, False, deadline=120)
    assert svclb_port_answers() is False


def test_rancher_pod_is_evicted_after_its_toleration_and_runs_elsewhere(rebooted_without_fix):
    wait_for("Rancher evicted from the worker and running on another node",
             lambda: running_rancher_nodes() and WORKER not in running_rancher_nodes(), 240)
    assert all(pod["spec"].get("nodeName") != WORKER for pod in rancher_pods()
               if not pod["metadata"].get("deletionTimestamp")), rancher_pods()


def test_with_kmsg_back_and_the_agent_restarted_the_worker_is_ready_and_untainted(rebooted_without_fix):
    in_container(VMID, "ln -sf /dev/console /dev/kmsg && systemctl restart k3s-agent")
    wait_ready_state(WORKER, True, deadline=120)
    wait_for("unreachable and not-ready taints gone",
             lambda: not {key for key, _ in taints(WORKER)} & {UNREACHABLE, "node.kubernetes.io/not-ready"}, 60)
    wait_for("the worker's svclb port answers again", svclb_port_answers, 60)
