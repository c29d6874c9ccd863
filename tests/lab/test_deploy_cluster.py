"""deploy.py on the lab over SSH: a Ready cluster, a no-op second run, secrets kept private, and a
worker's container reboot (LXC drops /dev/kmsg) healed by the unit's kmsg line without anyone."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.lab.helpers import LAB, changed_operations, pct, results_table, run_pyinfra, ssh, verify_until_green

CONTROL_IP = "10.213.0.101"
WORKERS = {"k3s-worker-1": "10.213.0.111", "k3s-worker-2": "10.213.0.112"}
NODES = ["k3s-control", *WORKERS]
KMSG_LINE = "/bin/bash -c rm -f /dev/kmsg && ln -sf /dev/console /dev/kmsg"


def cluster_nodes() -> dict[str, dict]:
    result = ssh(CONTROL_IP, "k3s kubectl get nodes -o json")
    assert result.returncode == 0, result.stderr
    return {item["metadata"]["name"]: item for item in json.loads(result.stdout)["items"]}


def ready_condition(node: dict) -> dict:
    return next(item for item in node["status"]["conditions"] if item["type"] == "Ready")


@pytest.fixture(scope="module")
def second_run(deployed_ssh, lab_inventory_ssh: Path):
    # From a settled cluster: a deploy that finds Rancher or a node still coming back from an earlier
    # module's reboot rightly waits for it, which is reported as a change.
    verify_until_green(lab_inventory_ssh)
    return run_pyinfra(lab_inventory_ssh, "deploy.py")


def test_fresh_deploy_makes_every_node_ready(deployed_ssh) -> None:
    nodes = cluster_nodes()
    assert {name: ready_condition(nodes[name])["status"] for name in NODES} == {name: "True" for name in NODES}


def test_nodes_register_with_their_inventory_address(deployed_ssh) -> None:
    nodes = cluster_nodes()
    assert {name: next(a["address"] for a in nodes[name]["status"]["addresses"] if a["type"] == "InternalIP")
            for name in WORKERS} == WORKERS


def test_second_deploy_succeeds(second_run) -> None:
    assert second_run.returncode == 0, second_run.stdout[-3000:]


def test_second_deploy_changes_nothing(second_run) -> None:
    assert ("Grand total" in results_table(second_run.stdout), changed_operations(second_run.stdout)) == (True, []), \
        second_run.stdout[-4000:]


def test_token_never_appears_in_deploy_output(deployed_ssh, second_run) -> None:
    token = str(yaml.safe_load((LAB / "secrets.yml").read_text())["k3s_token"])
    assert token not in deployed_ssh.stdout + second_run.stdout


@pytest.mark.parametrize("path", ["/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/token"])
@pytest.mark.parametrize("ip", [CONTROL_IP, *WORKERS.values()])
def test_k3s_config_and_token_are_private(deployed_ssh, ip: str, path: str) -> None:
    assert ssh(ip, f"stat -c %a {path}").stdout.strip() == "600"


@pytest.mark.parametrize("ip, unit", [(CONTROL_IP, "k3s"), *((ip, "k3s-agent") for ip in WORKERS.values())])
def test_unit_runs_the_kmsg_fix_before_k3s(deployed_ssh, ip: str, unit: str) -> None:
    assert KMSG_LINE in ssh(ip, f"systemctl show -p ExecStartPre {unit}").stdout


@pytest.fixture(scope="module")
def rebooted_worker(deployed_ssh) -> dict:
    """`pct reboot 111`, then wait (deadline 180 s) for a Ready heartbeat from after the reboot."""
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    assert pct("reboot", "111").returncode == 0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        result = ssh(CONTROL_IP, "k3s kubectl get node k3s-worker-1 -o json")
        if result.returncode == 0:
            ready = ready_condition(json.loads(result.stdout))
            if ready["status"] == "True" and ready["lastHeartbeatTime"] >= before:
                return ready
        time.sleep(2)
    pytest.fail("k3s-worker-1 not Ready with a fresh heartbeat within 180 s of `pct reboot 111`")


def test_reboot_of_a_worker_ends_ready(rebooted_worker) -> None:
    assert rebooted_worker["status"] == "True"


def test_reboot_of_a_worker_brings_kmsg_back_as_a_link(rebooted_worker) -> None:
    assert ssh(WORKERS["k3s-worker-1"], "readlink /dev/kmsg").stdout.strip() == "/dev/console"


def test_reboot_of_a_worker_leaves_its_agent_running(rebooted_worker) -> None:
    assert ssh(WORKERS["k3s-worker-1"], "systemctl is-active k3s-agent").stdout.strip() == "active"
