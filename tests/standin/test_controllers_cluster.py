"""Integration tests of the stand-in's controllers and kubelet against a real local `k3s server`
(loopback only, `--disable-kube-proxy --flannel-backend=none`) with short timings: grace 4 s,
monitor period 1 s, default toleration 6 s. Nodes other than the server's own are created through
the API, like a kubelet that then stops posting status.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import conftest
import kubernetes
import pytest
from conftest import KUBECTL, free_port, preload_images, standin_environment
from k3s_standin.node.shims import kill_all

SERVER_NODE = "standin-controllers"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """conftest's wait, with this module's shorter default."""
    return conftest.wait_for(what, check, timeout)


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.data_dir = directory / "data"
        self.kubeconfig = directory / "k3s.yaml"
        self.log = directory / "k3s.log"
        preload_images(self.data_dir)
        command = [sys.executable, "-m", "k3s_standin", "server", "--config", str(directory / "none.yaml"),
                   "--data-dir", str(self.data_dir), "--write-kubeconfig", str(self.kubeconfig),
                   "--https-listen-port", str(self.port), "--bind-address", "127.0.0.1",
                   "--node-ip", "127.0.0.1", "--node-name", SERVER_NODE,
                   "--disable-kube-proxy", "--flannel-backend=none",
                   "--kube-controller-manager-arg=node-monitor-grace-period=4s",
                   "--kube-controller-manager-arg=node-monitor-period=1s",
                   # NoExecute tainting is rate limited per zone (0.1 nodes/s upstream); fast here so a
                   # hand-removed taint comes back within the tests' seconds.
                   "--kube-controller-manager-arg=node-eviction-rate=10",
                   "--kubelet-arg=node-status-update-frequency=1s", f"--kubelet-arg=port={free_port()}",
                   "--kube-apiserver-arg=default-unreachable-toleration-seconds=6",
                   "--kube-apiserver-arg=default-not-ready-toleration-seconds=6"]
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(command, env=standin_environment(directory),
                                            stdout=output, stderr=subprocess.STDOUT)

    def client(self) -> kubernetes.client.ApiClient:
        return kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        kill_all(str(self.directory / "run"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("k3s-controllers"))

    def ready() -> bool:
        if running.process.poll() is not None:
            pytest.fail(f"k3s server exited:\n{running.log.read_text()[-3000:]}")
        if not running.kubeconfig.exists():
            return False
        try:
            node = kubernetes.client.CoreV1Api(running.client()).read_node(SERVER_NODE)
        except Exception:  # noqa: BLE001 - not up yet (connection refused, 404 before registration)
            return False
        return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])

    wait_for("the server's own node to be Ready", ready, timeout=30)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def core(cluster: Cluster) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(cluster.client())


@pytest.fixture(scope="module")
def apps(cluster: Cluster) -> kubernetes.client.AppsV1Api:
    return kubernetes.client.AppsV1Api(cluster.client())


def stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@pytest.fixture
def fake_node(core: kubernetes.client.CoreV1Api) -> Iterator[Callable[..., str]]:
    """A node that posted Ready once and then went silent; deleted after the test."""
    made = []

    def make(labels: dict[str, str] | None = None) -> str:
        name = f"fake-{uuid.uuid4().hex[:6]}"
        core.create_node({"apiVersion": "v1", "kind": "Node",
                          "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
                          "status": {"conditions": [ready_condition()],
                                     "addresses": [{"type": "InternalIP", "address": "10.213.0.250"}]}})
        made.append(name)
        return name

    yield make
    for name in made:
        core.delete_node(name)


def ready_condition() -> dict[str, str]:
    return {"type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "kubelet is posting ready status", "lastHeartbeatTime": stamp(),
            "lastTransitionTime": stamp()}


def taints_of(core: kubernetes.client.CoreV1Api, name: str) -> set[tuple[str, str]]:
    return {(t.key, t.effect) for t in core.read_node(name).spec.taints or []}


UNREACHABLE = {("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}


def test_silent_node_goes_unknown_tainted_and_recovers(core: kubernetes.client.CoreV1Api, fake_node,
                                                      cluster: Cluster) -> None:
    name = fake_node()
    wait_for("unreachable taints", lambda: taints_of(core, name) == UNREACHABLE)
    ready = next(c for c in core.read_node(name).status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason, ready.message) == ("Unknown", "NodeStatusUnknown",
                                                           "Kubelet stopped posting node status.")
    removed = subprocess.run([KUBECTL, "taint", "nodes", name, "node.kubernetes.io/unreachable:NoExecute-"],
                             env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
                             capture_output=True, text=True, check=False)
    assert removed.returncode == 0, removed.stderr
    wait_for("the hand-removed NoExecute taint to come back", lambda: taints_of(core, name) == UNREACHABLE, 5)
    core.patch_node_status(name, {"status": {"conditions": [ready_condition()]}})
    wait_for("taints to go once Ready", lambda: not taints_of(core, name), 5)


def test_stale_taints_fault_keeps_taints_on_ready_node(core: kubernetes.client.CoreV1Api, fake_node,
                                                       cluster: Cluster) -> None:
    faults = cluster.data_dir / "server" / "standin-faults"
    name = fake_node()
    wait_for("unreachable taints", lambda: taints_of(core, name) == UNREACHABLE)
    faults.write_text("stale-taints\n")
    try:
        core.patch_node_status(name, {"status": {"conditions": [ready_condition()]}})
        time.sleep(2.5)
        assert taints_of(core, name) == UNREACHABLE
        assert next(c for c in core.read_node(name).status.conditions if c.type == "Ready").status == "True"
    finally:
        faults.unlink()


def test_eviction_after_toleration_and_replacement_pending(core: kubernetes.client.CoreV1Api,
                                                          apps: kubernetes.client.AppsV1Api, fake_node) -> None:
    pool = uuid.uuid4().hex[:6]
    name = fake_node({"pool": pool})
    deployment = f"web-{pool}"
    apps.create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": deployment},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": deployment}},
                 "template": {"metadata": {"labels": {"app": deployment}},
                              "spec": {"nodeSelector": {"pool": pool},
                                       "containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    try:
        def pods() -> list:
            return core.list_namespaced_pod("default", label_selector=f"app={deployment}").items

        first = wait_for("the pod to be bound to the fake node",
                         lambda: next((p for p in pods() if p.spec.node_name == name), None))
        tainted_at = wait_for("NoExecute taint", lambda: taints_of(core, name) == UNREACHABLE and time.monotonic())
        wait_for("the eviction", lambda: next((p for p in pods() if p.metadata.name == first.metadata.name),
                                              first).metadata.deletion_timestamp is not None, 15)
        assert time.monotonic() - tainted_at >= 4, "evicted before tolerationSeconds (6s) ran out"
        events = core.list_namespaced_event("default", field_selector=f"involvedObject.name={first.metadata.name}")
        assert "TaintManagerEviction" in {event.reason for event in events.items}

        def replacement_message() -> str:
            for pod in pods():
                if pod.metadata.name != first.metadata.name and not pod.spec.node_name:
                    scheduled = [c for c in pod.status.conditions or [] if c.type == "PodScheduled"]
                    if scheduled and scheduled[0].reason == "Unschedulable":
                        return scheduled[0].message
            return ""

        message = wait_for("the replacement pod to be Pending with the scheduler's message", replacement_message)
        total = len(core.list_node().items)
        # kube-scheduler sorts the "<count> <reason>" strings, so the order depends on the counts.
        reasons = sorted(["1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }",
                          f"{total - 1} node(s) didn't match Pod's node affinity/selector"])
        assert message == (f"0/{total} nodes are available: {', '.join(reasons)}. preemption: 0/{total} nodes "
                           f"are available: {total} Preemption is not helpful for scheduling.")
    finally:
        apps.delete_namespaced_deployment(deployment, "default")


def echo_server() -> tuple[socket.socket, int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"echo:" + conn.recv(100))

    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1]


def daemon_sets(apps: kubernetes.client.AppsV1Api) -> dict[str, dict]:
    """kube-system DaemonSets as raw JSON (a DaemonSet's status is only filled in by its controller)."""
    answer = apps.list_namespaced_daemon_set("kube-system", _preload_content=False)
    return {item["metadata"]["name"]: item for item in json.loads(answer.data)["items"]}


def test_servicelb_daemonset_forwards_to_endpoint(core: kubernetes.client.CoreV1Api,
                                                  apps: kubernetes.client.AppsV1Api) -> None:
    listener, backend_port = echo_server()
    lb_port = free_port()
    name = f"lb-{uuid.uuid4().hex[:6]}"
    service = core.create_namespaced_service("default", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "tcp", "port": lb_port, "targetPort": backend_port}]}})
    core.create_namespaced_endpoints("default", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "tcp", "port": backend_port}]}]})
    ds_name = f"svclb-{name}-{service.metadata.uid[:8]}"
    try:
        ds = wait_for("the svclb DaemonSet", lambda: daemon_sets(apps).get(ds_name))
        assert ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostPort"] == lb_port
        wait_for("LoadBalancer ingress", lambda: (core.read_namespaced_service(name, "default").status
                                                  .load_balancer.ingress or [None])[0], 15)
        assert core.read_namespaced_service(name, "default").status.load_balancer.ingress[0].ip == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", lb_port), timeout=5) as conn:
            conn.sendall(b"hello")
            assert conn.recv(100) == b"echo:hello"
    finally:
        # The raw answer: which body a Service DELETE returns is the API's conformance business.
        core.delete_namespaced_service(name, "default", _preload_content=False)
        listener.close()
    wait_for("the svclb DaemonSet to go with its Service", lambda: ds_name not in daemon_sets(apps), 10)


RANCHER_MANIFEST = """\
apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: rancher
  namespace: kube-system
spec:
  repo: https://releases.rancher.com/server-charts/stable
  chart: rancher
  version: 2.10.1
  targetNamespace: cattle-system
  createNamespace: true
  valuesContent: |-
    hostname: rancher.lab.example
    replicas: 1
"""


def test_helm_controller_runs_install_and_delete_jobs_for_a_manifest(cluster: Cluster) -> None:
    """The controller's side (helm-controller v0.16.5): a manifest's HelmChart gets its install Job,
    which retries rather than failing (backoffLimit 1000; the air-gapped repo failure is in its pod's
    log, see test_helm_job.py); deleting the HelmChart runs `helm-delete-<name>` and, once that Job
    succeeded, releases the finalizer."""
    manifests = cluster.data_dir / "server" / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    (manifests / "rancher.yaml").write_text(RANCHER_MANIFEST)
    custom = kubernetes.client.CustomObjectsApi(cluster.client())
    batch = kubernetes.client.BatchV1Api(cluster.client())

    def chart() -> dict:
        return custom.get_namespaced_custom_object("helm.cattle.io", "v1", "kube-system", "helmcharts", "rancher")

    def job_named(name: str) -> Any:
        return next((j for j in batch.list_namespaced_job("kube-system").items if j.metadata.name == name), None)

    def job_name() -> str:
        try:
            return (chart().get("status") or {}).get("jobName", "")
        except kubernetes.client.ApiException:
            return ""

    wait_for("the HelmChart's status.jobName", job_name, 30)
    assert chart()["status"]["jobName"] == "helm-install-rancher"
    assert "wrangler.cattle.io/on-helm-chart-remove" in chart()["metadata"]["finalizers"]
    install = job_named("helm-install-rancher")
    assert install.spec.backoff_limit == 1000 and not any(
        c.type == "Failed" for c in (install.status.conditions or []))
    (manifests / "rancher.yaml").unlink()
    time.sleep(3)  # several deploy-controller passes: k3s keeps what a removed file applied
    assert chart()
    custom.delete_namespaced_custom_object("helm.cattle.io", "v1", "kube-system", "helmcharts", "rancher")
    wait_for("the helm-delete-rancher Job", lambda: job_named("helm-delete-rancher"), 15)

    def removed() -> bool:
        try:
            chart()
        except kubernetes.client.ApiException as error:
            return error.status == 404
        return False

    wait_for("the HelmChart to go once its delete Job succeeded", removed, 30)
