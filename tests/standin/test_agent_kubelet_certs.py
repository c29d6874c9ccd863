"""An agent's kubelet serves with `serving-kubelet.crt` from the supervisor (signed by the server CA
for its name and IP) and verifies callers against the client CA it fetched, so `kubectl logs` of a
pod on an agent works through the API, and the supervisor routes refuse callers without the node
credentials (k3s-io/k3s pkg/server/router.go, pkg/agent/config/config.go)."""

from __future__ import annotations

import base64
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from conftest import Server, free_port, preload_images, standin_environment, wait_for
from k3s_standin.certs import token_password
from k3s_standin.node.shims import kill_all

AGENT = "standin-agent"
POD = "agent-rancher"


@pytest.fixture(scope="module")
def agent_kubelet_port(k3s_server: Server, core_v1: kubernetes.client.CoreV1Api,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`k3s agent` joined to the test server, its kubelet on a free port; the port its Node reports."""
    directory = tmp_path_factory.mktemp("agent")
    preload_images(directory / "data")
    (directory / "token").write_text(k3s_server.node_token)
    command = [sys.executable, "-m", "k3s_standin", "agent", "--config", str(directory / "none.yaml"),
               "--server", k3s_server.url, "--token-file", str(directory / "token"),
               "--data-dir", str(directory / "data"), "--node-ip", "127.0.0.1", "--node-name", AGENT,
               "--disable-kube-proxy", "--flannel-backend=none", f"--kubelet-arg=port={free_port()}"]
    with open(directory / "agent.log", "ab") as output:
        agent = subprocess.Popen(command, env=standin_environment(directory), stdout=output, stderr=subprocess.STDOUT)
    try:
        node = wait_for("the agent's Node", lambda: _reported_port(core_v1))
        yield node
    finally:
        agent.terminate()
        agent.wait(timeout=10)
        kill_all(str(directory / "run"))
        core_v1.delete_node(AGENT)


def _reported_port(core_v1: kubernetes.client.CoreV1Api) -> int | None:
    try:
        endpoint = core_v1.read_node(AGENT).status.daemon_endpoints.kubelet_endpoint
    except kubernetes.client.exceptions.ApiException:
        return None
    return endpoint.port if endpoint and endpoint.port else None


@pytest.fixture(scope="module")
def agent_pod(agent_kubelet_port: int, core_v1: kubernetes.client.CoreV1Api) -> Iterator[str]:
    core_v1.create_namespaced_pod("default", {"metadata": {"name": POD}, "spec": {
        "nodeName": AGENT, "containers": [{"name": "rancher", "image": "rancher/rancher:v2.10.1",
                                           "args": ["--http-listen-port=0", "--https-listen-port=0"]}]}})
    wait_for("the container on the agent to run",
             lambda: (s := core_v1.read_namespaced_pod(POD, "default").status.container_statuses) and s[0].state.running)
    yield POD
    core_v1.delete_namespaced_pod(POD, "default")


def _kubelet_get(server: Server, port: int, path: str, client: tuple[Path, Path] | None = None) -> tuple[int, str]:
    """GET the agent's kubelet trusting only the server CA, with no token and no client certificate
    unless `client` (certificate, key) is given."""
    context = ssl.create_default_context(cafile=server.ca_file)
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _supervisor_get(server: Server, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{server.url}{path}", headers=headers)
    context = ssl.create_default_context(cafile=server.ca_file)
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _node_auth(server: Server) -> dict[str, str]:
    credentials = base64.b64encode(f"node:{token_password(server.node_token)}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def test_kubectl_logs_of_a_pod_on_an_agent(agent_pod: str, kubectl) -> None:
    result = kubectl("logs", agent_pod, "-n", "default")
    assert (result.returncode, result.stdout.splitlines()[:1]) == (0, ["Rancher version standin is starting for https://rancher"])


def test_agent_kubelet_refuses_a_caller_without_certificate_or_token(k3s_server: Server, agent_pod: str,
                                                                     agent_kubelet_port: int) -> None:
    # the TLS handshake succeeding against the server CA alone also proves the serving certificate
    assert _kubelet_get(k3s_server, agent_kubelet_port, f"/containerLogs/default/{agent_pod}/rancher") == (
        401, "Unauthorized")


def test_agent_kubelet_refuses_a_client_certificate_from_another_ca(k3s_server: Server, agent_kubelet_port: int,
                                                                   tmp_path: Path) -> None:
    key, cert = tmp_path / "self.key", tmp_path / "self.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-subj", "/CN=system:admin", "-days", "1", "-out", str(cert)],
                   check=True, capture_output=True)
    # the handshake completes (tls.RequestClientCert); the kubelet's x509 authenticator refuses it
    assert _kubelet_get(k3s_server, agent_kubelet_port, "/containerLogs/default/x/y", (cert, key)) == (
        401, "Unauthorized")


def test_supervisor_refuses_serving_certificate_without_node_credentials(k3s_server: Server) -> None:
    code, body = _supervisor_get(k3s_server, "/v1-k3s/serving-kubelet.crt",
                                 {"k3s-Node-Name": "intruder", "k3s-Node-Password": "x"})
    assert (code, b'"message":"forbidden"' in body) == (403, True)


def test_supervisor_refuses_the_server_user(k3s_server: Server) -> None:
    credentials = base64.b64encode(f"server:{token_password(k3s_server.node_token)}".encode()).decode()
    assert _supervisor_get(k3s_server, "/v1-k3s/client-ca.crt", {"Authorization": f"Basic {credentials}"})[0] == 403


def test_supervisor_needs_the_node_name(k3s_server: Server) -> None:
    code, body = _supervisor_get(k3s_server, "/v1-k3s/serving-kubelet.crt", _node_auth(k3s_server))
    assert (code, b'"message":"node name not set"' in body) == (400, True)


def test_supervisor_serves_the_client_ca_to_nodes(k3s_server: Server) -> None:
    expected = (k3s_server.data_dir / "server" / "tls" / "client-ca.crt").read_bytes()
    assert _supervisor_get(k3s_server, "/v1-k3s/client-ca.crt", _node_auth(k3s_server)) == (200, expected)


def test_serving_certificate_names_the_node_and_its_ips(k3s_server: Server, tmp_path: Path) -> None:
    code, body = _supervisor_get(k3s_server, "/v1-k3s/serving-kubelet.crt", {
        **_node_auth(k3s_server), "k3s-Node-Name": "K3S-Worker-1", "k3s-Node-Password": "p",
        "k3s-Node-IP": "10.213.0.111"})
    (tmp_path / "answer.pem").write_bytes(body)
    text = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "answer.pem"), "-noout", "-subject", "-ext",
                           "subjectAltName"], capture_output=True, text=True, check=True).stdout
    assert (code, text.split()) == (200, ["subject=CN", "=", "k3s-worker-1", "X509v3", "Subject", "Alternative",
                                          "Name:", "DNS:k3s-worker-1,", "DNS:localhost,", "IP", "Address:127.0.0.1,",
                                          "IP", "Address:10.213.0.111"])
