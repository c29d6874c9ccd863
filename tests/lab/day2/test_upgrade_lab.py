"""The rolling k3s upgrade on the default lab, from the stand-in of the release before
(`release.PREVIOUS_K3S_VERSION`) to the inventory's (`release.DEFAULT_K3S_VERSION`).

What the lab provides: `make lab-up` builds both stand-ins (`lab/build/k3s` and
`lab/build/k3s-<previous version>`, lab/standin_build.py) and writes the inventories at the default
version; `inventories.k3s_data()` gives the previous build's `k3s_version`, `k3s_binary_src` and
`k3s_sha256`. The module first deploys those as `--data` (on a lab where earlier tests deployed the
default version, a downgrade through the deploy, which the stand-in takes), then upgrades with the
inventory as an operator would after editing `k3s_version`. It leaves the cluster at the
inventory's version, so later tests find the cluster they expect.

In order: a target two minors ahead is refused and changes nothing; with k3s-worker-1's agent unit
broken the upgrade stops there, the control node upgraded and k3s-worker-2 left on the old version;
the re-run (unit fixed) completes, a PodDisruptionBudget's two pods drained off k3s-worker-2 never
both gone; Rancher answers /ping through HAProxy every 0.5 s over both runs without one failure; a
deploy afterwards changes nothing; the old binaries and the datastore copy are kept; a re-run leaves a
node an operator cordoned as it is.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import time
from pathlib import Path

import pytest
from inventories import RANCHER_HOSTNAME, k3s_data
from k3s_standin.release import DEFAULT_K3S_VERSION, PREVIOUS_K3S_VERSION
from standin_build import binary_name
from topology import BUILD_DIR

from tests.lab.helpers import changed_operations, in_container, kubectl, pct, rancher_rolled_out, run_pyinfra
from verify import host_probe

HAPROXY_IP = "10.213.0.121"
PROBE_SECONDS = 0.5
NODES = {"k3s-control": "101", "k3s-worker-1": "111", "k3s-worker-2": "112"}
BROKEN_DROP_IN = "/etc/systemd/system/k3s-agent.service.d/99-upgrade-test-broken.conf"
GUARDED = "upgrade-pdb-guarded"
GUARDED_OBJECTS = {
    "apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": GUARDED, "namespace": "default"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": GUARDED}}}},
        # A ReplicaSet keeps its pods where they are when its template changes (a Deployment would roll
        # them): both start on k3s-worker-2, and their replacements may go anywhere.
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": GUARDED, "namespace": "default"},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": GUARDED}},
                  "template": {"metadata": {"labels": {"app": GUARDED}},
                               "spec": {"nodeSelector": {"kubernetes.io/hostname": "k3s-worker-2"},
                                        "containers": [{"name": "pause", "image": "docker.io/rancher/mirrored-pause:3.6"}]}}}},
    ]}


@functools.cache
def previous() -> dict:
    """The previous build's k3s data (read when a test runs: the lab builds it on `make lab-up`)."""
    return k3s_data(BUILD_DIR / binary_name(PREVIOUS_K3S_VERSION), PREVIOUS_K3S_VERSION)


def data_arguments(data: dict) -> list[str]:
    return [argument for key, value in data.items() for argument in ("--data", f"{key}={value}")]


def kubelet_versions() -> dict[str, str]:
    listed = json.loads(kubectl("get", "nodes", "-o", "json"))
    return {node["metadata"]["name"]: node["status"]["nodeInfo"]["kubeletVersion"] for node in listed["items"]}


def binary_sha256(node: str, path: str = "/usr/local/bin/k3s") -> str:
    return in_container(NODES[node], f"sha256sum {path}").stdout.decode().split()[0]


def guarded_pods() -> list[dict] | None:
    """The guarded pods; None while the API does not answer (the single server restarting)."""
    listed = kubectl("get", "pods", "-n", "default", "-l", f"app={GUARDED}", "-o", "json")
    return json.loads(listed)["items"] if listed else None


def ready_count(pods: list[dict]) -> int:
    return sum(1 for pod in pods if not pod["metadata"].get("deletionTimestamp") and any(
        item["type"] == "Ready" and item["status"] == "True" for item in pod.get("status", {}).get("conditions", [])))


class Probes:
    """Rancher's /ping through HAProxy and the guarded pods' Ready count, every 0.5 s, in a thread."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.guarded_ready: list[tuple[str, int]] = []
        self.guarded_low: list[list] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        while not self.stop.is_set():
            answer = host_probe.ping_result(HAPROXY_IP, 443, RANCHER_HOSTNAME)
            if answer["body"].strip() != "pong":
                self.failures.append(f"{time.strftime('%H:%M:%S')} {answer['error'] or answer['body'][:80]}")
            pods = guarded_pods()
            if pods is not None:
                self.guarded_ready.append((time.strftime("%H:%M:%S"), ready_count(pods)))
                if ready_count(pods) < 1:
                    self.guarded_low.append([(pod["metadata"]["name"], pod.get("spec", {}).get("nodeName"),
                                              bool(pod["metadata"].get("deletionTimestamp")),
                                              [(c["type"], c["status"]) for c in pod.get("status", {}).get("conditions", [])])
                                             for pod in pods])
            time.sleep(PROBE_SECONDS)


@pytest.fixture(scope="module")
def at_previous(lab_inventory_ssh: Path) -> Path:
    """The lab's cluster on the previous release, deployed with the previous build's data."""
    result = run_pyinfra(lab_inventory_ssh, "deploy.py", *data_arguments(previous()))
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(kubelet_versions().values()) == {PREVIOUS_K3S_VERSION}
    return lab_inventory_ssh


@pytest.fixture(scope="module")
def probes(at_previous: Path):
    created = pct("exec", "101", "--", "k3s", "kubectl", "apply", "-f", "-", input=json.dumps(GUARDED_OBJECTS).encode())
    assert created.returncode == 0, created.stderr.decode()
    deadline = time.monotonic() + 180
    while ready_count(guarded_pods() or []) < 2:
        assert time.monotonic() < deadline, "the guarded pods are not Ready on k3s-worker-2"
        time.sleep(2)
    kubectl("patch", "replicaset", GUARDED, "-n", "default", "--type=json",
            "-p", '[{"op": "remove", "path": "/spec/template/spec/nodeSelector"}]')
    running = Probes()
    running.thread.start()
    yield running
    running.stop.set()
    running.thread.join()
    kubectl("delete", "replicaset,poddisruptionbudget", GUARDED, "-n", "default", "--ignore-not-found")


def test_a_target_two_minors_ahead_is_refused_and_changes_nothing(at_previous):
    result = run_pyinfra(at_previous, "upgrade.py", "--data", "k3s_version=v1.32.0+k3s1")
    assert result.returncode != 0
    assert "upgrade refused, nothing changed: k3s-control: k3s_version v1.32.0+k3s1 skips a minor version" in result.stdout
    assert set(kubelet_versions().values()) == {PREVIOUS_K3S_VERSION}


@pytest.fixture(scope="module")
def stopped_run(at_previous, probes):
    """The upgrade with k3s-worker-1's agent unit broken (its ExecStartPre fails)."""
    in_container("111", f"mkdir -p {Path(BROKEN_DROP_IN).parent} && printf '[Service]\\nExecStartPre=/bin/false\\n' "
                        f"> {BROKEN_DROP_IN} && systemctl daemon-reload")
    try:
        return run_pyinfra(at_previous, "upgrade.py", "--data", "upgrade_timeout=60")
    finally:
        in_container("111", f"rm -f {BROKEN_DROP_IN} && systemctl daemon-reload")


def test_a_node_failing_mid_way_stops_the_upgrade_in_one_line(stopped_run):
    assert stopped_run.returncode != 0
    assert ("upgrade stopped at k3s-worker-1 (restart: not back within 60s); nothing else touched; left on the old "
            "version: k3s-worker-2;") in stopped_run.stdout, stopped_run.stdout[-3000:]


def test_the_nodes_after_the_failed_one_stay_on_the_old_version(stopped_run):
    versions = kubelet_versions()
    assert (versions["k3s-control"], versions["k3s-worker-2"]) == (DEFAULT_K3S_VERSION, PREVIOUS_K3S_VERSION)
    assert binary_sha256("k3s-worker-2") == previous()["k3s_sha256"]


@pytest.fixture(scope="module")
def rerun(stopped_run, at_previous, probes):
    result = run_pyinfra(at_previous, "upgrade.py")
    probes.stop.set()
    probes.thread.join()
    return result


def test_the_rerun_completes_every_node_at_the_new_version(rerun):
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert set(kubelet_versions().values()) == {DEFAULT_K3S_VERSION}


def test_each_upgraded_node_says_how_long_it_took(stopped_run, rerun):
    """One line per node, over both runs (docs/OPERATIONS.md gives these times); shown with -rP."""
    timed = re.findall(r"(k3s-[\w-]+) upgraded to \S+ in ([\d.]+)s", stopped_run.stdout + rerun.stdout)
    print("\n".join(f"{node} upgraded in {seconds}s" for node, seconds in timed))
    assert [node for node, _ in timed] == list(NODES)


def test_rancher_answered_through_haproxy_throughout(rerun, probes):
    assert probes.failures == []


def test_the_pod_disruption_budget_was_respected(rerun, probes):
    pods = guarded_pods() or []
    assert probes.guarded_ready and [seen for seen in probes.guarded_ready if seen[1] < 1] == [], probes.guarded_low
    assert ready_count(pods) == 2 and all(pod["spec"]["nodeName"] != "k3s-worker-2" for pod in pods)


def test_every_node_is_uncordoned(rerun):
    listed = json.loads(kubectl("get", "nodes", "-o", "json"))
    assert [node["metadata"]["name"] for node in listed["items"] if node["spec"].get("unschedulable")] == []


def test_the_old_binaries_are_kept_for_rollback(rerun):
    assert {node: binary_sha256(node, "/usr/local/bin/k3s.previous") for node in NODES} == dict.fromkeys(
        NODES, previous()["k3s_sha256"])


def test_the_datastore_copy_is_kept_0600(rerun):
    listed = in_container("101", "stat -c '%a' /var/lib/rancher/k3s/server/db/pre-upgrade-*.db").stdout.decode().split()
    assert listed and set(listed) == {"600"}


def test_the_upgrade_ends_with_rancher_rolled_out_again(rerun):
    """The last node's evicted Rancher pod serves elsewhere before the run ends (the budget guards
    the next drain, not the end of the run); without the wait the deploy below waited for it."""
    assert "Deployments rolled out again" in rerun.stdout
    assert rancher_rolled_out()


def test_a_deploy_after_the_upgrade_changes_nothing(rerun, at_previous):
    result = run_pyinfra(at_previous, "deploy.py")
    assert result.returncode == 0, result.stdout[-3000:]
    assert changed_operations(result.stdout) == []


def test_the_binary_is_the_inventorys(rerun):
    expected = hashlib.sha256((BUILD_DIR / binary_name(DEFAULT_K3S_VERSION)).read_bytes()).hexdigest()
    assert {node: binary_sha256(node) for node in NODES} == dict.fromkeys(NODES, expected)


def test_a_rerun_leaves_a_node_an_operator_cordoned_as_it_is(rerun, at_previous):
    """At the target and cordoned by hand, k3s-worker-2 is not the upgrade's to finish or give back
    (tasks/node_drain.py): the run neither restarts nor uncordons it, and says nothing is left."""
    kubectl("cordon", "k3s-worker-2")
    try:
        result = run_pyinfra(at_previous, "upgrade.py")
        listed = json.loads(kubectl("get", "nodes", "-o", "json"))
    finally:
        kubectl("uncordon", "k3s-worker-2")
    assert result.returncode == 0, result.stdout[-3000:]
    assert [node["metadata"]["name"] for node in listed["items"] if node["spec"].get("unschedulable")] == ["k3s-worker-2"]
    assert re.findall(r"(k3s-[\w-]+) upgraded to", result.stdout) == []
