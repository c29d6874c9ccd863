"""A local `k3s server` (the stand-in) for conformance tests: a subprocess on a free loopback port
with its own data dir and kubeconfig, node networking off with the real k3s flags. No LXC needed.

The node lifecycle grace period is an hour so the nodes the tests create through the API keep the
status the tests give them.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import kubernetes
import pytest

import airgap_inputs
import images
from k3s_standin import release
from k3s_standin.node.shims import kill_all

REPO = Path(__file__).resolve().parents[2]
KUBECTL = str(Path(sys.executable).parent / "kubectl")
START_SECONDS = 30
# What a lab node carries in agent/images: k3s's own images and the products'.
NODE_IMAGES = (*release.SYSTEM_IMAGES, *airgap_inputs.RANCHER_IMAGES, *airgap_inputs.CERT_MANAGER_IMAGES)
RANCHER_STARTUP_SECONDS = "2"


@dataclasses.dataclass
class Server:
    """A running stand-in server and where its files are."""

    process: subprocess.Popen
    url: str
    data_dir: Path
    kubeconfig: Path
    log: Path

    @property
    def ca_file(self) -> str:
        return str(self.data_dir / "server" / "tls" / "server-ca.crt")

    @property
    def node_token(self) -> str:
        return (self.data_dir / "server" / "node-token").read_text().strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def admin_context(data_dir: Path) -> ssl.SSLContext:
    """TLS to a server's API as its kubeconfig's user (system:admin's client certificate): k3s
    answers /readyz without credentials only with kube-apiserver-arg anonymous-auth=true."""
    tls = data_dir / "server" / "tls"
    context = ssl.create_default_context(cafile=str(tls / "server-ca.crt"))
    context.load_cert_chain(tls / "client-admin.crt", tls / "client-admin.key")
    return context


def _ready(server: Server) -> bool:
    if not server.kubeconfig.exists():
        return False
    context = admin_context(server.data_dir)
    try:
        with urllib.request.urlopen(f"{server.url}/readyz", context=context, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def standin_environment(directory: Path, **extra: str) -> dict[str, str]:
    """The environment of a stand-in process: the package on the path, its own run directory
    (its pod shims' state, /run/k3s on a real node), pod log directory (/var/log/pods) and node
    password directory (/etc/rancher/node) so tests never touch the host's, and a short Rancher start-up."""
    return {**os.environ, "PYTHONPATH": str(REPO / "lab"), "K3S_STANDIN_RUN_DIR": str(directory / "run"),
            "K3S_STANDIN_POD_LOG_DIR": str(directory / "pods"), "K3S_STANDIN_NODE_CONFIG_DIR": str(directory / "node"),
            "K3S_STANDIN_RANCHER_STARTUP_SECONDS": RANCHER_STARTUP_SECONDS, **extra}


def preload_images(data_dir: Path, references: Sequence[str] = NODE_IMAGES, name: str = "images.tar",
                   layout: str = images.OCI) -> Path:
    """Put an image archive where k3s imports it at start (`<data-dir>/agent/images/`)."""
    return images.write_archive(data_dir / "agent" / "images" / name, references, layout)


def start_server(directory: Path, port: int, extra_args: Sequence[str] = (),
                 references: Sequence[str] = NODE_IMAGES) -> Server:
    """Start `k3s server` (its node carrying `references`, its kubelet on a free port) and wait until
    it serves; fails with the server's log otherwise."""
    log = directory / "k3s.log"
    if references and not (directory / "data" / "agent" / "images" / "images.tar").exists():
        preload_images(directory / "data", references)
    command = [sys.executable, "-m", "k3s_standin", "server",
               "--config", str(directory / "config.yaml"),
               "--data-dir", str(directory / "data"),
               "--write-kubeconfig", str(directory / "k3s.yaml"),
               "--https-listen-port", str(port), "--bind-address", "127.0.0.1",
               "--node-ip", "127.0.0.1", "--node-name", "standin-conformance",
               "--disable-kube-proxy", "--flannel-backend=none", "--disable=servicelb",
               "--kube-controller-manager-arg=node-monitor-grace-period=1h",
               f"--kubelet-arg=port={free_port()}", *extra_args]
    with open(log, "ab") as output:
        process = subprocess.Popen(command, env=standin_environment(directory), stdout=output,
                                   stderr=subprocess.STDOUT)
    server = Server(process, f"https://127.0.0.1:{port}", directory / "data", directory / "k3s.yaml", log)
    deadline = time.monotonic() + START_SECONDS
    while not _ready(server):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            pytest.fail(f"k3s server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return server


def stop_server(server: Server) -> None:
    """SIGTERM the server, then end its pods' shims as k3s-killall.sh would (KillMode=process leaves them)."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    kill_all(str(server.data_dir.parent / "run"))


@pytest.fixture(scope="session")
def k3s_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("k3s"), free_port())
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def kubeconfig(k3s_server: Server) -> str:
    return str(k3s_server.kubeconfig)


@pytest.fixture(scope="session")
def api_client(kubeconfig: str) -> kubernetes.client.ApiClient:
    return kubernetes.config.new_client_from_config(config_file=kubeconfig)


@pytest.fixture(scope="session")
def core_v1(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api_client)


@pytest.fixture
def kubectl(kubeconfig: str) -> Callable[..., subprocess.CompletedProcess]:
    """Run the real kubectl against the stand-in; returns the completed process (never raises)."""
    def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([KUBECTL, *args], env={**os.environ, "KUBECONFIG": kubeconfig},
                              capture_output=True, text=True, timeout=timeout, check=False)
    return run


def node_body(name: str, ready: bool, address: str = "10.213.0.250") -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
            "conditions": [ready_condition(ready)],
            "nodeInfo": {"kubeletVersion": "v1.31.4+k3s1", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.23-k3s2",
                         "architecture": "amd64", "operatingSystem": "linux", "bootID": "", "machineID": "",
                         "kubeProxyVersion": "", "systemUUID": ""}}}


def ready_condition(ready: bool) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"type": "Ready", "status": "True" if ready else "False",
            "reason": "KubeletReady" if ready else "KubeletNotReady",
            "message": "kubelet is posting ready status" if ready else "container runtime is down",
            "lastHeartbeatTime": now, "lastTransitionTime": now}


@pytest.fixture
def make_node(core_v1: kubernetes.client.CoreV1Api) -> Iterator[Callable[..., str]]:
    """Create a Node through the API (no kubelet needed); deleted after the test."""
    created = []

    def make(ready: bool = True, address: str = "10.213.0.250") -> str:
        name = f"node-{uuid.uuid4().hex[:8]}"
        core_v1.create_node(node_body(name, ready, address))
        created.append(name)
        return name

    yield make
    for name in created:
        try:
            core_v1.delete_node(name)
        except kubernetes.client.exceptions.ApiException as error:
            if error.status != 404:
                raise


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
