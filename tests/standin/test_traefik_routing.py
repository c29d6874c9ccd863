"""The Traefik container routes Ingresses: by SNI to the Ingress's TLS secret's certificate, else
Traefik's default certificate; by Host on `web`; forwarded headers kept only from trusted IPs;
404 "404 page not found" without a route."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import free_port
from k3s_standin.node import ingress_routes, svclb
from k3s_standin.node.pod_logs import LogWriter
from k3s_standin.node.traefik import DEFAULT_CN, TraefikContainer, trusted_networks


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        data = json.dumps(dict(self.headers.items())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return


def tls_secret(tmp_path: Path, host: str) -> dict[str, Any]:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return {"metadata": {"namespace": "cattle-system", "name": "tls-rancher-ingress"}, "type": "kubernetes.io/tls",
            "data": {"tls.crt": base64.b64encode(cert.read_bytes()).decode(),
                     "tls.key": base64.b64encode(key.read_bytes()).decode()}}


@pytest.fixture
def traefik(tmp_path: Path) -> Iterator[dict[str, int]]:
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    ingress = {"metadata": {"namespace": "cattle-system", "name": "rancher"}, "spec": {
        "tls": [{"hosts": ["rancher.lab"], "secretName": "tls-rancher-ingress"}],
        "rules": [{"host": "rancher.lab", "http": {"paths": [{"path": "/", "pathType": "ImplementationSpecific",
                                                              "backend": {"service": {"name": "rancher",
                                                                                      "port": {"number": 80}}}}]}}]}}
    other_class = {**ingress, "metadata": {"namespace": "cattle-system", "name": "nginx-one"},
                   "spec": {**ingress["spec"], "ingressClassName": "nginx", "rules": [{**ingress["spec"]["rules"][0],
                                                                                      "host": "other.lab"}]}}
    service = {"metadata": {"namespace": "cattle-system", "name": "rancher"},
               "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 80}]}}
    endpoints = {"metadata": {"namespace": "cattle-system", "name": "rancher"}, "subsets": [
        {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": backend.server_address[1]}]}]}
    table = ingress_routes.routes([ingress, other_class], [service], [endpoints], [tls_secret(tmp_path, "rancher.lab")])
    svclb.write_targets(str(tmp_path / "routes.json"), table)
    ports = {"web": free_port(), "websecure": free_port()}
    container = TraefikContainer("127.0.0.1", {"ports": [{"name": "web", "containerPort": ports["web"]},
                                                         {"name": "websecure", "containerPort": ports["websecure"]}],
                                               "args": ["--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.0/8",
                                                        "--entryPoints.websecure.forwardedHeaders.trustedIPs=127.0.0.1/32"]},
                                 str(tmp_path / "routes.json"), LogWriter(str(tmp_path / "traefik" / "0.log")))
    container.start()
    yield ports
    container.stop()
    backend.shutdown()


def peer_cn(port: int, sni: str) -> str:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port)) as raw, context.wrap_socket(raw, server_hostname=sni) as tls:
        der = tls.getpeercert(binary_form=True)
    text = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"], input=der,
                          capture_output=True, check=True).stdout.decode()
    return text.split("CN", 1)[1].strip(" =\n")


def get(port: int, host: str, headers: dict[str, str] | None = None, tls: bool = False) -> tuple[int, str]:
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/ping", headers={"Host": host, **(headers or {})})
    response = conn.getresponse()
    return response.status, response.read().decode()


def test_sni_selects_the_ingress_secret_else_the_default_cert(traefik: dict[str, int]) -> None:
    assert peer_cn(traefik["websecure"], "rancher.lab") == "rancher.lab"
    assert peer_cn(traefik["websecure"], "unknown.lab") == DEFAULT_CN


def test_https_is_proxied_with_forwarded_headers(traefik: dict[str, int]) -> None:
    code, body = get(traefik["websecure"], "rancher.lab", tls=True)
    headers = json.loads(body)
    assert code == 200 and headers["X-Forwarded-Proto"] == "https" and headers["X-Forwarded-Host"] == "rancher.lab"
    assert headers["X-Forwarded-Port"] == str(traefik["websecure"]) and headers["X-Forwarded-For"] == "127.0.0.1"


def test_untrusted_client_forwarded_headers_are_replaced(traefik: dict[str, int]) -> None:
    code, body = get(traefik["web"], "rancher.lab", {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    headers = json.loads(body)
    assert code == 200 and headers["X-Forwarded-Proto"] == "http" and headers["X-Forwarded-For"] == "127.0.0.1"


def test_trusted_client_forwarded_headers_are_kept(traefik: dict[str, int]) -> None:
    code, body = get(traefik["websecure"], "rancher.lab", {"X-Forwarded-Proto": "http",
                                                           "X-Forwarded-For": "203.0.113.9"}, tls=True)
    headers = json.loads(body)
    assert code == 200 and headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert trusted_networks(["--entryPoints.web.forwardedHeaders.insecure"], "web") is None


def test_no_route_is_404_and_other_classes_are_ignored(traefik: dict[str, int]) -> None:
    assert get(traefik["web"], "nobody.lab") == (404, "404 page not found\n")
    assert get(traefik["web"], "other.lab") == (404, "404 page not found\n")
