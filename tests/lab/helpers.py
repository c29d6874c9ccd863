"""Helpers for the end-to-end tests on the LXC lab: running pct, kubectl, SSH, pyinfra and verify
against the lab, and waiting with a deadline. The fixtures and hooks are in conftest.py.

Example:
    result = run_pyinfra(lab_inventory_ssh, "deploy.py")
    wait_ready_state("k3s-worker-1", True, deadline=180)
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from pathlib import Path

from node_pct import pct_on_node

from verify.rancher import NAMESPACE as RANCHER_NAMESPACE
from verify.rancher import TRUST_SECRETS

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "lab"
PCT = LAB / "bin" / "pct"
SSH_KEY = LAB / "ssh" / "id_ed25519"
KNOWN_HOSTS = LAB / "ssh" / "known_hosts"


def pct(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the lab's pct on the node that holds the container (lab/node_pct.py) and capture its output."""
    return subprocess.run(pct_on_node(*args), input=input, capture_output=True, timeout=180)


CONTROL_VMID = "101"
NOT_READY_DEADLINE = 120


def kubectl(*args: str) -> str:
    """``k3s kubectl`` on the control container (through pct): its stdout, or ``""`` when it failed.
    A failed ``kubectl get -o json`` still prints an empty List on stdout (kubernetes/kubectl
    pkg/cmd/get/get.go ``printGeneric``), which read as an answer looked like a cluster without pods
    (tests/standin/test_list_across_restart.py)."""
    result = pct("exec", CONTROL_VMID, "--", "k3s", "kubectl", *args, "--request-timeout=5s")
    return result.stdout.decode().strip() if result.returncode == 0 else ""


def rancher_rolled_out() -> bool:
    """Rancher's Deployment has every replica updated and Ready (a deploy then finds /ping answering
    at once: a wait for it would count as a change)."""
    status = json.loads(kubectl("get", "deployment", "rancher", "-n", "cattle-system", "-o", "json") or "{}").get("status", {})
    return bool(status) and status.get("updatedReplicas") == status.get("readyReplicas") == status.get("replicas") \
        and not status.get("unavailableReplicas")


def rancher_ca() -> str | None:
    """The CA verify trusts for Rancher's certificate (verify.rancher.trusted_ca), read with kubectl."""
    for name, key in TRUST_SECRETS:
        escaped = key.replace(".", "\\.")
        found = kubectl("-n", RANCHER_NAMESPACE, "get", "secret", name, "--ignore-not-found", "-o", f"jsonpath={{.data.{escaped}}}")
        if found.strip():
            return base64.b64decode(found).decode()
    return None


def ready(node: str) -> str:
    """The node's Ready condition status: True, False, Unknown or empty."""
    return kubectl("get", "node", node, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')


def wait_for(what: str, check, deadline: float) -> float:
    """Poll ``check`` every 2 s; the seconds it took, or fail naming ``what``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < deadline, f"{what}: not within {deadline:g}s"
        time.sleep(2)
    return time.monotonic() - started


def wait_ready_state(node: str, wanted_ready: bool, deadline: int = NOT_READY_DEADLINE) -> None:
    """Poll until the node is (or is no longer) Ready; fail the test at the deadline."""
    wait_for(f"{node} {'Ready' if wanted_ready else 'NotReady'}", lambda: (ready(node) == "True") == wanted_ready, deadline)


def in_container(vmid: str, command: str) -> subprocess.CompletedProcess:
    """A shell command in a lab container (through pct) that must succeed."""
    result = pct("exec", vmid, "--", "sh", "-c", command)
    assert result.returncode == 0, result.stderr.decode()
    return result


def ssh(ip: str, command: str, known_hosts: Path = KNOWN_HOSTS) -> subprocess.CompletedProcess:
    """Run one command over SSH as root with the lab key and strict host key checking."""
    return subprocess.run(
        ["ssh", "-i", str(SSH_KEY), "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", f"root@{ip}", command],
        capture_output=True, text=True, timeout=60,
    )


def run_pyinfra(inventory: Path, deploy_file: str, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `pyinfra -y inventory.py <deploy_file>` against a lab inventory; output is stdout+stderr."""
    return subprocess.run(
        [str(REPO / ".venv/bin/pyinfra"), "-y", *extra, "inventory.py", deploy_file],
        cwd=REPO, env={"K3S_INVENTORY": str(inventory), "PATH": f"{REPO}/.venv/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
    )


# Rancher's and Traefik's pods: every request to Rancher goes through both, whichever HAProxy server it
# takes. A node that dies unplanned takes its pods with it, and their endpoints stay until the node
# lifecycle controller marks it NotReady (tens of seconds), whatever HAProxy does.
RANCHER_PATH = {"cattle-system": "app=rancher", "kube-system": "app.kubernetes.io/name=traefik"}


def _rancher_path_pods() -> list[dict]:
    found = []
    for namespace, selector in RANCHER_PATH.items():
        found += json.loads(kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json") or '{"items": []}')["items"]
    return found


def rancher_path_pods_on(node: str) -> list[str]:
    """The Rancher and Traefik pods bound to ``node``, as ``namespace/name``."""
    return [f"{pod['metadata']['namespace']}/{pod['metadata']['name']}" for pod in _rancher_path_pods()
            if pod["spec"].get("nodeName") == node]


def serving_off(node: str) -> bool:
    """Rancher and Traefik each have a Ready pod, and none of theirs is on ``node``."""
    pods = _rancher_path_pods()
    for namespace, selector in RANCHER_PATH.items():
        label, _, value = selector.partition("=")
        own = [pod for pod in pods if pod["metadata"]["namespace"] == namespace
               and (pod["metadata"].get("labels") or {}).get(label) == value]
        ready_pods = [pod for pod in own if not pod["metadata"].get("deletionTimestamp") and any(
            item["type"] == "Ready" and item["status"] == "True" for item in pod.get("status", {}).get("conditions", []))]
        if not ready_pods or any(pod["spec"].get("nodeName") == node for pod in own):
            return False
    return True


def rancher_path_moved_off(node: str, deadline: int = 300) -> None:
    """Rancher's and Traefik's pods moved off ``node`` before a test kills it unplanned: cordoned, its
    pods deleted, Ready elsewhere, uncordoned."""
    kubectl("cordon", node)
    try:
        for pod in rancher_path_pods_on(node):
            namespace, name = pod.split("/")
            kubectl("delete", "pod", "-n", namespace, name, "--wait=false")
        wait_for(f"Rancher and Traefik Ready off {node}", lambda: serving_off(node), deadline)
    finally:
        kubectl("uncordon", node)


def run_host_maintenance(inventory: Path, pve: str, *options: str) -> subprocess.CompletedProcess:
    """``python host_maintenance.py -y --data maintenance_node=<pve> ...`` (what ``make host-maintenance``
    runs); output is stdout+stderr."""
    return subprocess.run(
        [str(REPO / ".venv/bin/python"), "host_maintenance.py", "-y", "--data", f"maintenance_node={pve}", *options],
        cwd=REPO, env={"K3S_INVENTORY": str(inventory), "PATH": f"{REPO}/.venv/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1200,
    )


def unschedulable(node: str) -> bool:
    return kubectl("get", "node", node, "-o", "jsonpath={.spec.unschedulable}") == "true"


RESULT_ROW = re.compile(r"^\s{4}(?P<operation>\S.*?)\s{2,}(?P<hosts>\d+)\s+(?P<success>\S+)\s+(?P<error>\S+)\s+(?P<no_change>\S+)\s*$")


def results_table(output: str) -> dict[str, dict[str, str]]:
    """pyinfra's "Results" table: operation name -> hosts / success (changed) / error / no_change.

    >>> results_table("    k3s binary   3   -   -   3   ")["k3s binary"]["success"]
    '-'
    """
    rows = (RESULT_ROW.match(line) for line in output.split("--> Results:")[-1].splitlines())
    return {row["operation"]: row.groupdict() for row in rows if row and row["operation"] != "Operation"}


def changed_operations(output: str) -> list[str]:
    """Operations that the results table reports as changed (or failed) on at least one host."""
    return [name for name, row in results_table(output).items()
            if name != "Grand total" and (row["success"], row["error"]) != ("-", "-")]


def run_verify(inventory: Path, *arguments: str) -> subprocess.CompletedProcess:
    """``pytest verify/`` against a lab inventory; output is stdout+stderr."""
    return subprocess.run(
        [str(REPO / ".venv/bin/python"), "-m", "pytest", "verify/", "--inventory", str(inventory),
         "-q", "-p", "no:cacheprovider", *arguments],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )


def verify_until_green(inventory: Path, *arguments: str, deadline: int = 180) -> subprocess.CompletedProcess:
    """Re-run verify until it passes or the deadline: after a node restarts its pods take seconds to
    serve again and HAProxy needs its ``rise`` checks, so "recovered" is a state reached, not an instant."""
    end = time.monotonic() + deadline
    while True:
        result = run_verify(inventory, *arguments)
        if result.returncode == 0 or time.monotonic() > end:
            return result
        time.sleep(2)
