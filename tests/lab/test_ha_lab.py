"""The HA lab (LAB_TOPOLOGY=ha: three servers on embedded etcd, the API behind HAProxy) end to end:
fresh deploy, a second deploy change-free, verify green, restarts in both modes with a snapshot
taken first, one server's container reboot with the API answering through HAProxy throughout.

Run with `make test-ha` (a fresh HA lab, then these tests); `make test` skips them. They run in file
order on one cluster: the deploy first, the reboot last.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from topology import inventory_name, topology

from tasks.host_maintenance_rules import RECORD_NAME, RECORD_NAMESPACE, recorded
from tests.lab.helpers import (
    LAB,
    REPO,
    changed_operations,
    in_container,
    kubectl,
    pct,
    run_host_maintenance,
    run_pyinfra,
    run_verify,
    unschedulable,
    verify_until_green,
    wait_for,
)
from verify.kube import write_kubeconfig

pytestmark = pytest.mark.skipif(topology() != "ha", reason="needs the HA lab: make test-ha")

HAPROXY_IP = "10.213.0.121"
NODES = ("k3s-control", "k3s-control-2", "k3s-control-3", "k3s-worker-1", "k3s-worker-2")
PROBE_SECONDS = 0.5


@pytest.fixture(scope="module")
def ha_ssh() -> Path:
    path = LAB / inventory_name("ssh")
    assert path.exists(), "the HA lab is not up: make lab-up LAB_TOPOLOGY=ha"
    return path


@pytest.fixture(scope="module")
def ha_pct(ha_ssh: Path) -> Path:
    return LAB / inventory_name("pct")


@pytest.fixture(scope="module")
def deployed(ha_ssh: Path) -> subprocess.CompletedProcess:
    result = run_pyinfra(ha_ssh, "deploy.py")
    assert result.returncode == 0, result.stdout[-3000:]
    return result


def test_fresh_deploy_then_a_second_one_changes_nothing(deployed, ha_ssh):
    again = run_pyinfra(ha_ssh, "deploy.py")
    assert again.returncode == 0, again.stdout[-3000:]
    assert changed_operations(again.stdout) == []


def test_preflight_warns_that_two_members_share_node_lab(deployed, ha_pct):
    """Over pct, where each host's Proxmox node is known (an SSH host's is not: no warning then)."""
    result = run_pyinfra(ha_pct, "preflight.py")
    assert "k3s-control, k3s-control-3 on Proxmox node lab" in result.stdout, result.stdout[-3000:]


def test_verify_is_green(deployed, ha_ssh):
    result = run_verify(ha_ssh)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "test_etcd_member_is_healthy" in run_verify(ha_ssh, "-v", "-k", "etcd").stdout


def snapshots() -> list[str]:
    """The names `k3s etcd-snapshot ls` lists on the first server."""
    listing = in_container("101", "k3s etcd-snapshot ls").stdout.decode()
    return [line.split()[0] for line in listing.splitlines()[1:] if line.strip()]


def test_the_fresh_deploys_service_restart_took_a_snapshot_then_restarted_every_node(deployed):
    """A deploy that installed k3s ends with restart.py's own flow (deploy.py calls
    tasks/restart.py restart_and_verify, service mode by default), so the fixture's fresh deploy is
    the service-mode restart: servers first, one at a time, then the agents."""
    lines = [line for line in deployed.stdout.splitlines() if "restarted and back in" in line]
    order = [node for line in lines for node in NODES if f"] {node} restarted" in " ".join(line.split())]
    assert order == list(NODES), deployed.stdout[-3000:]
    assert "etcd snapshot before the restart" in deployed.stdout
    assert any(name.startswith("pre-restart-") for name in snapshots())


def test_one_servers_container_reboot_takes_a_snapshot_and_stays_green(deployed, ha_pct):
    """restart.py in container mode (pct reboot) on one server (every container one at a time is
    the default lab's test, and took three minutes more here)."""
    before = set(snapshots())
    result = run_pyinfra(ha_pct, "restart.py", "--data", "restart_mode=container", "--data",
                         "restart_nodes=k3s-control-2", timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:]
    assert [name for name in snapshots() if name not in before and name.startswith("pre-restart-")] != []


def test_quorum_losing_restart_is_refused(deployed, ha_pct):
    result = run_pyinfra(ha_pct, "restart.py", "--data", "restart_serial=false")
    assert result.returncode != 0
    assert "loses etcd's quorum" in result.stdout


def test_host_maintenance_that_loses_quorum_is_refused_and_stops_nothing(deployed, ha_pct):
    """Node lab holds k3s-control and k3s-control-3, two of the three etcd members."""
    refused = run_host_maintenance(ha_pct, "lab")
    assert refused.returncode != 0
    assert ("host maintenance of node lab refused, nothing changed: it holds k3s-control, k3s-control-3: 2 of the 3 "
            "etcd members, and the 1 left are fewer than the quorum of 2") in refused.stdout, refused.stdout[-3000:]
    assert [vmid for vmid in ("101", "103", "111") if "running" not in pct("status", vmid).stdout.decode()] == []
    assert [node for node in ("k3s-control", "k3s-control-3", "k3s-worker-1") if unschedulable(node)] == []
    record = kubectl("-n", RECORD_NAMESPACE, "get", "configmap", RECORD_NAME, "--ignore-not-found", "-o", "json")
    assert recorded(record, "lab") == []


def api_probe_failures(kubeconfig: str, stop: threading.Event, failures: list[str]) -> None:
    """`kubectl get nodes` through HAProxy every 0.5 s until ``stop``; each failure noted."""
    while not stop.is_set():
        done = subprocess.run([str(REPO / ".venv/bin/kubectl"), "--kubeconfig", kubeconfig, "get", "nodes",
                               "--request-timeout=5s"], capture_output=True, text=True)
        if done.returncode != 0:
            failures.append(done.stderr.strip()[-200:])
        time.sleep(PROBE_SECONDS)


def test_one_servers_reboot_keeps_the_api_answering_through_haproxy(deployed, ha_ssh):
    kubeconfig_text = in_container("101", "cat /etc/rancher/k3s/k3s.yaml").stdout.decode()
    with tempfile.TemporaryDirectory() as directory:
        kubeconfig = write_kubeconfig(kubeconfig_text, HAPROXY_IP, directory)
        stop, failures = threading.Event(), []
        probe = threading.Thread(target=api_probe_failures, args=(kubeconfig, stop, failures))
        probe.start()
        try:
            assert pct("reboot", "102").returncode == 0
            green = verify_until_green(ha_ssh, deadline=300)
        finally:
            stop.set()
            probe.join()
    assert green.returncode == 0, green.stdout[-3000:]
    assert failures == []


SERVERS = ("101", "102", "103")
K3S_DB = "/var/lib/rancher/k3s/server/db"


def k3s_kubectl(vmid: str, *args: str) -> subprocess.CompletedProcess:
    """``k3s kubectl`` on one server, whatever it answers (the test reads failures too)."""
    return pct("exec", vmid, "--", "k3s", "kubectl", *args, "--request-timeout=10s")


def configmap_names(vmid: str = "101") -> set[str]:
    listed = k3s_kubectl(vmid, "get", "configmaps", "-n", "default", "-o", "name")
    assert listed.returncode == 0, listed.stderr.decode()
    return set(listed.stdout.decode().split())


def create_configmap(name: str, vmid: str = "101") -> None:
    created = k3s_kubectl(vmid, "create", "configmap", name, "-n", "default", "--from-literal=kept=yes")
    assert created.returncode == 0, created.stderr.decode()


def api_answers(vmid: str) -> bool:
    return k3s_kubectl(vmid, "get", "--raw", "/readyz").returncode == 0


def test_two_servers_stopped_lose_quorum_and_the_cluster_returns_with_its_objects(deployed, ha_ssh):
    create_configmap("before-two-stopped")
    for vmid in ("102", "103"):
        assert pct("stop", vmid).returncode == 0
    try:
        # Without quorum the write cannot commit: etcd's "request timed out", or, once the server's lease
        # renewals fail, k3s exits with "leaderelection lost" (kube-scheduler's OnStoppedLeading exits
        # the process it runs in) and waits for etcd on its restart: the connection is refused.
        write = k3s_kubectl("101", "create", "configmap", "without-quorum", "-n", "default", "--from-literal=a=b")
        assert write.returncode == 1, write.stdout.decode()
    finally:
        for vmid in ("102", "103"):
            pct("start", vmid)
    wait_for("the API on every server", lambda: all(api_answers(vmid) for vmid in SERVERS), 240)
    green = verify_until_green(ha_ssh, deadline=300)
    assert green.returncode == 0, green.stdout[-3000:]
    listed = {vmid: configmap_names(vmid) for vmid in SERVERS}
    assert all("configmap/before-two-stopped" in names for names in listed.values()), listed
    # The write that failed was never acknowledged, so either outcome is correct: if the survivor was
    # the etcd leader it had appended the entry to its log, and a later leader with that log commits it
    # (Raft, Ongaro & Ousterhout 2014, section 5.4.2: entries from earlier terms are committed along with
    # the new term's first entry; etcd-io/raft raft.go maybeCommit); a leader elected from the other two
    # drops it. What must hold is that every server then answers the same.
    assert len({frozenset(names) for names in listed.values()}) == 1, listed


def test_all_three_servers_rebooted_at_once_come_back_with_their_objects(deployed, ha_ssh):
    create_configmap("before-all-rebooted")
    for vmid in SERVERS:
        assert pct("reboot", vmid).returncode == 0
    green = verify_until_green(ha_ssh, deadline=420)
    assert green.returncode == 0, green.stdout[-3000:]
    assert {"configmap/before-two-stopped", "configmap/before-all-rebooted"} <= configmap_names()


def api_answers_through_haproxy(kubeconfig: str) -> bool:
    done = subprocess.run([str(REPO / ".venv/bin/kubectl"), "--kubeconfig", kubeconfig, "get", "--raw", "/readyz",
                           "--request-timeout=5s"], capture_output=True, text=True)
    return done.returncode == 0


def test_a_snapshot_restores_the_cluster_as_the_k3s_docs_describe(deployed, ha_ssh):
    """docs.k3s.io "Backup and Restore" (embedded etcd): stop k3s on every server; on the first,
    `k3s server --cluster-reset --cluster-reset-restore-path=<snapshot>`; start it; on the others,
    remove the db directory, then start them: they join the restored member.

    The others join through the registration address (HAProxy), which sends nothing to the restored
    server until its /readyz check has passed `rise` times: a joiner started before that cannot reach
    it and exits (k3s: "failed to validate token"), its `systemctl start` failing although systemd
    restarts it. So the others start once the API answers through HAProxy; both then start at once
    (`--no-block`), and k3s adds them one learner at a time (k3s-io/k3s pkg/etcd/etcd.go `Start`)."""
    create_configmap("in-the-snapshot")
    saved = in_container("101", "k3s etcd-snapshot save --name lab-restore 2>&1")
    snapshot = next(line.split()[0] for line in in_container("101", "k3s etcd-snapshot ls").stdout.decode().splitlines()
                    if line.startswith("lab-restore"))
    create_configmap("after-the-snapshot")
    for vmid in SERVERS:
        in_container(vmid, "systemctl stop k3s")
    reset = pct("exec", "101", "--", "sh", "-c",
                f"k3s server --cluster-reset --cluster-reset-restore-path={K3S_DB}/snapshots/{snapshot} 2>&1")
    assert "Managed etcd cluster membership has been reset" in reset.stdout.decode(), \
        saved.stdout.decode() + reset.stdout.decode()
    in_container("101", "systemctl start k3s")
    kubeconfig_text = in_container("101", "cat /etc/rancher/k3s/k3s.yaml").stdout.decode()
    with tempfile.TemporaryDirectory() as directory:
        kubeconfig = write_kubeconfig(kubeconfig_text, HAPROXY_IP, directory)
        wait_for("the restored server behind HAProxy", lambda: api_answers_through_haproxy(kubeconfig), 120)
    for vmid in ("102", "103"):
        in_container(vmid, f"rm -rf {K3S_DB} && systemctl start --no-block k3s")
    green = verify_until_green(ha_ssh, deadline=420)
    assert green.returncode == 0, green.stdout[-3000:]
    names = configmap_names("103")
    assert ("configmap/in-the-snapshot" in names, "configmap/after-the-snapshot" in names) == (True, False)
