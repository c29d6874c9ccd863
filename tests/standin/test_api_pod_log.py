"""`pods/<name>/log` proxied by the stand-in's API to the pod's kubelet, as kube-apiserver does:
`kubectl logs` against a tiny TLS server in the test that plays the kubelet (its serving certificate
from the server CA, the API's client certificate checked against the client CA)."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

LOG = "first line\nlast line\n"


class FakeKubelet(http.server.BaseHTTPRequestHandler):
    """Answers /containerLogs/... with `answer`; remembers what it was asked and by whom."""

    answer: tuple[int, str] = (200, LOG)
    requests: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        subject = dict(item[0] for item in self.connection.getpeercert()["subject"])
        FakeKubelet.requests.append((self.path, subject["commonName"]))
        code, text = FakeKubelet.answer
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        pass


def _serving_cert(tls: Path, directory: Path) -> tuple[str, str]:
    key, cert = directory / "kubelet.key", directory / "kubelet.crt"
    extensions = directory / "kubelet.ext"
    extensions.write_text("extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-subj", "/CN=fake-kubelet", "-out", str(directory / "kubelet.csr")],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(directory / "kubelet.csr"), "-CA", str(tls / "server-ca.crt"),
                    "-CAkey", str(tls / "server-ca.key"), "-set_serial", "7", "-days", "1",
                    "-extfile", str(extensions), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture(scope="module")
def kubelet_port(k3s_server, tmp_path_factory) -> Iterator[int]:
    tls = k3s_server.data_dir / "server" / "tls"
    cert, key = _serving_cert(tls, tmp_path_factory.mktemp("kubelet"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(str(tls / "client-ca.crt"))
    context.verify_mode = ssl.CERT_REQUIRED
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeKubelet)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def pod(core_v1, make_node, kubelet_port) -> str:
    """A pod with one container `helm` on a node whose kubelet is the fake one."""
    node = make_node(address="127.0.0.1")
    core_v1.patch_node_status(node, {"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}}}})
    name = f"helm-install-{uuid.uuid4().hex[:5]}"
    core_v1.create_namespaced_pod("default", {"metadata": {"name": name}, "spec": {
        "nodeName": node, "containers": [{"name": "helm", "image": "rancher/klipper-helm:v0.9.3-build20241008"}]}})
    FakeKubelet.answer, FakeKubelet.requests = (200, LOG), []
    return name


def test_kubectl_logs_prints_what_the_kubelet_serves(kubectl, pod):
    result = kubectl("logs", pod)
    assert (result.returncode, result.stdout) == (0, LOG)


def test_api_asks_the_kubelet_for_the_container_with_its_client_certificate(kubectl, pod):
    kubectl("logs", pod)
    assert FakeKubelet.requests == [(f"/containerLogs/default/{pod}/helm", "system:kube-apiserver")]


def test_tail_and_previous_are_passed_to_the_kubelet(kubectl, pod):
    kubectl("logs", pod, "--tail=1", "--previous")
    assert FakeKubelet.requests[0][0] == f"/containerLogs/default/{pod}/helm?previous=true&tailLines=1"


def test_unknown_container_is_refused_by_the_api(core_v1, pod):
    """kubectl checks the container name itself first; other clients get the apiserver's answer."""
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        core_v1.read_namespaced_pod_log(pod, "default", container="nope")
    assert (refused.value.status, json.loads(refused.value.body)["message"]) == (
        400, f"container nope is not valid for pod {pod}")


def test_kubelet_refusal_of_a_waiting_container_is_passed_through(kubectl, pod):
    FakeKubelet.answer = (400, f'container "helm" in pod "{pod}" is waiting to start: ContainerCreating')
    result = kubectl("logs", pod)
    assert result.stderr.strip() == (f'Error from server (BadRequest): container "helm" in pod "{pod}" '
                                     "is waiting to start: ContainerCreating")


def test_logs_of_a_missing_pod_are_not_found(core_v1):
    with pytest.raises(kubernetes.client.exceptions.ApiException) as missing:
        core_v1.read_namespaced_pod_log("absent-pod", "default")
    assert (missing.value.status, json.loads(missing.value.body)["message"]) == (
        404, 'pods "absent-pod" not found')


def test_pod_without_a_node_has_an_empty_log(core_v1, kubectl):
    name = f"pending-{uuid.uuid4().hex[:5]}"
    core_v1.create_namespaced_pod("default", {"metadata": {"name": name}, "spec": {
        "schedulerName": "nobody", "containers": [{"name": "helm", "image": "rancher/klipper-helm"}]}})
    result = kubectl("logs", name)
    assert (result.returncode, result.stdout) == (0, "")
