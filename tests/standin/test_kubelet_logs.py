"""The kubelet serves container logs over TLS at the port the Node reports
(`status.daemonEndpoints.kubeletEndpoint.Port`): `/containerLogs/<ns>/<pod>/<container>` with
tailLines and previous, to callers with a client-CA certificate or the cluster token."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request

import kubernetes

from conftest import Server, wait_for

NODE = "standin-conformance"


def fetch(server: Server, port: int, url: str, cert: bool = True) -> tuple[int, str]:
    context = ssl.create_default_context(cafile=server.ca_file)
    context.check_hostname = False
    if cert:
        tls = server.data_dir / "server" / "tls"
        context.load_cert_chain(str(tls / "client-admin.crt"), str(tls / "client-admin.key"))
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{url}", context=context, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_container_logs_endpoint(k3s_server: Server, core_v1: kubernetes.client.CoreV1Api) -> None:
    port = core_v1.read_node(NODE).status.daemon_endpoints.kubelet_endpoint.port
    assert port != 10250  # the test server's kubelet-arg port=
    core_v1.create_namespaced_pod("default", {"metadata": {"name": "logs-rancher"}, "spec": {
        "nodeName": NODE, "containers": [{"name": "rancher", "image": "rancher/rancher:v2.10.1",
                                          "args": ["--http-listen-port=0", "--https-listen-port=0"]}]}})
    wait_for("the container to run", lambda: (s := core_v1.read_namespaced_pod("logs-rancher", "default")
                                              .status.container_statuses) and s[0].state.running)
    code, text = fetch(k3s_server, port, "/containerLogs/default/logs-rancher/rancher")
    assert code == 200 and text.startswith("Rancher version standin is starting")
    assert fetch(k3s_server, port, "/containerLogs/default/logs-rancher/rancher?tailLines=1")[1].startswith("Listening on")
    assert fetch(k3s_server, port, "/containerLogs/default/logs-rancher/rancher?previous=true") == (
        400, 'previous terminated container "rancher" in pod "logs-rancher" not found')
    assert fetch(k3s_server, port, "/containerLogs/default/nobody/c") == (
        404, 'pod "nobody" cannot be found - no logs available')
    assert fetch(k3s_server, port, "/containerLogs/default/logs-rancher/rancher", cert=False)[0] == 401
    core_v1.delete_namespaced_pod("logs-rancher", "default")
