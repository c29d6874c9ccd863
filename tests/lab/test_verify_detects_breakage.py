"""Each verify/ check fails, with its one-line message, when the thing it checks is broken on the lab,
and passes again once it is repaired."""

from __future__ import annotations

import time

import pytest

from facts.haproxy import runtime_command
from tests.lab.helpers import pct, run_verify, verify_until_green

CONTROL, WORKER_2, HAPROXY = "101", "112", "121"


def in_container(vmid: str, command: str) -> None:
    result = pct("exec", vmid, "--", "sh", "-c", command)
    assert result.returncode == 0, result.stderr.decode()


def summary_line(output: str, test: str, node: str) -> str:
    """The verify summary row for one test on one host."""
    rows = [line for line in output.splitlines() if line.split()[1:3] == [test, node]]
    return rows[0] if rows else ""


def wait_for(vmid: str, command: str, timeout: int = 120) -> None:
    deadline = time.monotonic() + timeout
    while pct("exec", vmid, "--", "sh", "-c", command).returncode != 0:
        assert time.monotonic() < deadline, f"timed out waiting for: {command}"
        time.sleep(2)


BREAKAGES = [
    pytest.param(
        CONTROL, "test_unit_recreates_dev_kmsg_before_start", "k3s-control",
        "mkdir -p /etc/systemd/system/k3s.service.d && printf '[Service]\\nExecStartPre=\\n' "
        "> /etc/systemd/system/k3s.service.d/99-verify-break.conf && systemctl daemon-reload",
        "rm -f /etc/systemd/system/k3s.service.d/99-verify-break.conf && systemctl daemon-reload",
        "has no effective kmsg ExecStartPre",
        id="kmsg-fix-removed",
    ),
    pytest.param(
        WORKER_2, "test_dev_kmsg_exists", "k3s-worker-2",
        "rm -f /dev/kmsg", "ln -sf /dev/console /dev/kmsg",
        "/dev/kmsg is missing on k3s-worker-2",
        id="dev-kmsg-removed",
    ),
    pytest.param(
        CONTROL, "test_watcher_timer_is_active", "k3s-control",
        "systemctl stop k3s-node-watcher.timer", "systemctl start k3s-node-watcher.timer",
        "k3s-node-watcher.timer is inactive on k3s-control",
        id="watcher-timer-stopped",
    ),
    pytest.param(
        HAPROXY, "test_haproxy_is_active", "haproxy",
        "systemctl stop haproxy", "systemctl start haproxy",
        "haproxy is inactive on haproxy",
        id="haproxy-stopped",
    ),
    pytest.param(
        WORKER_2, "test_k3s_service_is_active", "k3s-worker-2",
        "systemctl stop k3s-agent", "systemctl start k3s-agent",
        "k3s-agent is inactive on k3s-worker-2",
        id="agent-stopped",
    ),
    pytest.param(
        WORKER_2, "test_k3s_service_is_enabled", "k3s-worker-2",
        "systemctl disable k3s-agent", "systemctl enable k3s-agent",
        "k3s-agent is disabled on k3s-worker-2, so it will not start after a reboot",
        id="agent-disabled",
    ),
    pytest.param(
        # k3s's KillMode=process leaves the pods running when the agent stops; k3s-killall.sh is what
        # stops them too, which the stand-in's pod shims model (their processes killed).
        WORKER_2, "test_rancher_pings_via_each_k3s_node", "haproxy",
        "systemctl stop k3s-agent && pkill -f '[k]3s_standin pod-shim'", "systemctl start k3s-agent",
        # Named with its own cause; when Traefik's one replica ran there, every node's path fails too
        # (each node's :443 leads to Traefik's endpoints), and is named with its own.
        "'k3s-worker-2': 'no answer: [Errno 111] Connection refused'",
        id="node-port-silent",
    ),
    pytest.param(
        HAPROXY, "test_rancher_backend_servers_are_up", "haproxy",
        runtime_command("set server backend_rancher/k3s-worker-2 state maint"),
        runtime_command("set server backend_rancher/k3s-worker-2 state ready"),
        "backend_rancher servers not UP on haproxy: {'k3s-worker-2': 'MAINT",
        id="haproxy-server-in-maintenance",
    ),
    pytest.param(
        HAPROXY, "test_haproxy_config_is_valid", "haproxy",
        "cp /etc/haproxy/haproxy.cfg /root/haproxy.cfg.verify-test && echo 'backend broken' >> /etc/haproxy/haproxy.cfg "
        "&& echo '    server x 10.213.0.250:70000' >> /etc/haproxy/haproxy.cfg",
        "mv /root/haproxy.cfg.verify-test /etc/haproxy/haproxy.cfg",
        "/etc/haproxy/haproxy.cfg on haproxy is invalid",
        id="haproxy-config-invalid",
    ),
    pytest.param(
        HAPROXY, "test_rancher_pings_via_haproxy_with_a_trusted_certificate", "haproxy",
        "systemctl stop haproxy", "systemctl start haproxy",
        "Rancher /ping via HAProxy haproxy",
        id="rancher-unreachable-through-haproxy",
    ),
]


@pytest.mark.parametrize(("vmid", "test", "node", "break_it", "repair", "message"), BREAKAGES)
def test_check_fails_when_broken_and_passes_when_repaired(
    deployed_ssh, lab_inventory_ssh, vmid, test, node, break_it, repair, message
):
    # Each case starts from a green cluster: the one before checks only its own test once repaired,
    # and HAProxy may still be bringing servers back (after node-port-silent, when Traefik's one
    # replica ran on the worker whose pods it killed, every server went DOWN).
    assert verify_until_green(lab_inventory_ssh).returncode == 0, "not green before breaking it"
    in_container(vmid, break_it)
    try:
        broken = run_verify(lab_inventory_ssh, "-k", test)
    finally:
        in_container(vmid, repair)
    repaired = verify_until_green(lab_inventory_ssh, "-k", test)
    assert (message in summary_line(broken.stdout, test, node), repaired.returncode) == (True, 0), broken.stdout[-3000:]


def test_not_ready_worker_fails_ready_and_taint_checks(deployed_ssh, lab_inventory_ssh):
    in_container(WORKER_2, "systemctl stop k3s-agent")
    try:
        wait_for(CONTROL, "k3s kubectl get node k3s-worker-2 -o jsonpath='{.spec.taints}' | grep -q unreachable")
        broken = run_verify(lab_inventory_ssh, "-k", "test_cluster_nodes")
    finally:
        in_container(WORKER_2, "systemctl start k3s-agent")
        wait_for(CONTROL, "k3s kubectl get node k3s-worker-2 -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True")
        # Later modules start from a green cluster: the worker's pods serving, HAProxy's server UP.
        verify_until_green(lab_inventory_ssh)
    assert [
        "is not Ready" in summary_line(broken.stdout, "test_node_is_ready", "k3s-worker-2"),
        "node.kubernetes.io/unreachable" in summary_line(
            broken.stdout, "test_node_has_no_unreachable_or_not_ready_taints", "k3s-worker-2"
        ),
    ] == [True, True], broken.stdout[-3000:]
