"""Rancher "container": HTTPS on the pod IP at its https containerPort (and HTTP on its http port, the
one the chart's Service port 80 and Traefik reach), answering `/ping` with `pong` and `/healthz` with
`ok`, like Rancher's own health endpoints, with a self-signed certificate made once by the openssl
CLI (Rancher generates its own CA the same way).

Rancher takes a while to start: until STARTUP_SECONDS after the container started (30 s, or
$K3S_STANDIN_RANCHER_STARTUP_SECONDS) both answer 503, so the chart's startupProbe and
readinessProbe (rancher/rancher chart/templates/deployment.yaml: httpGet /healthz on port 80) keep
the pod unready; `ready_at` tells the kubelet when they pass.

On SIGTERM Rancher stops serving at once: rancher/rancher main.go cancels its context on the signal
(wrangler pkg/signals `SetupSignalContext`), which makes dynamiclistener's servers call
`http.Server.Shutdown` (rancher/dynamiclistener server/server.go: listeners closed) while
pkg/rancher/rancher.go `ListenAndServe` returns `ctx.Err()` and main's `ExitErrHandler` ends the
process with `logrus.Fatal` ("context canceled", exit 1) without waiting for requests in flight.
So `stop` closes the listeners at once; the chart sets no preStop hook.

Example:
    server = RancherContainer(pod_ip, container, tls_dir, writer); server.start(); server.stop()
"""

from __future__ import annotations

import http.server
import os
import ssl
import subprocess
import time
from typing import Any

from k3s_standin.node.listeners import Server, listen
from k3s_standin.node.pod_logs import LogWriter

Obj = dict[str, Any]
ANSWERS = {"/ping": "pong", "/healthz": "ok"}
STARTUP_ENV = "K3S_STANDIN_RANCHER_STARTUP_SECONDS"
STARTUP_SECONDS = 30.0


def startup_seconds() -> float:
    return float(os.environ.get(STARTUP_ENV) or STARTUP_SECONDS)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "rancher"
    protocol_version = "HTTP/1.1"
    ready_at = 0.0

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = ANSWERS.get(self.path.split("?")[0])
        code = 200 if body is not None else 404
        if time.time() < self.ready_at:
            code, body = 503, "Service Unavailable"
        data = (body if body is not None else "404 page not found\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        return


def certificate(tls_dir: str, hostname: str) -> tuple[str, str]:
    """(cert, key) paths, created once: self-signed for the Rancher hostname."""
    cert, key = os.path.join(tls_dir, "tls.crt"), os.path.join(tls_dir, "tls.key")
    if not (os.path.exists(cert) and os.path.exists(key)):
        os.makedirs(tls_dir, mode=0o700, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "3650", "-subj", f"/O=dynamiclistener-org/CN={hostname}",
                        "-addext", f"subjectAltName=DNS:{hostname},DNS:rancher.cattle-system",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        os.chmod(key, 0o600)
    return cert, key


def hostname_of(container: Obj) -> str:
    env = {item["name"]: item.get("value", "") for item in container.get("env") or []}
    return (env.get("CATTLE_SERVER_URL") or "https://rancher").split("://", 1)[-1].split("/")[0] or "rancher"


# Rancher's own listener for in-cluster HTTPS, which the chart's Service `https-internal` (443) targets.
INTERNAL_HTTPS_PORT = 444


def listen_ports(args: list[str]) -> tuple[int, int]:
    """(HTTP, HTTPS) from the chart's `--http-listen-port=80 --https-listen-port=443` (rancher/rancher
    chart/templates/deployment.yaml passes both; only 80 is a declared containerPort)."""
    found = {"--http-listen-port": 80, "--https-listen-port": 443}
    for arg in args:
        key, _, number = str(arg).partition("=")
        if key in found and number.isdigit():
            found[key] = int(number)
    return found["--http-listen-port"], found["--https-listen-port"]


class RancherContainer:
    def __init__(self, pod_ip: str, container: Obj, tls_dir: str, writer: LogWriter) -> None:
        self.pod_ip = pod_ip
        self.writer = writer
        self.ready_at = 0.0
        self.http_port, self.https_port = listen_ports(container.get("args") or [])
        self.hostname = hostname_of(container)
        self.tls_dir = tls_dir
        self.servers: list[Server] = []

    def start(self) -> None:
        cert, key = certificate(self.tls_dir, self.hostname)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.ready_at = time.time() + startup_seconds()
        handler = type("RancherHandler", (Handler,), {"ready_at": self.ready_at})
        self.servers.append(listen(self.pod_ip, self.https_port, handler, context))
        self.servers.append(listen(self.pod_ip, self.http_port, handler))
        self.writer.line(f"Rancher version standin is starting for https://{self.hostname}")
        try:
            self.servers.append(listen(self.pod_ip, INTERNAL_HTTPS_PORT, handler, context))
        except OSError as error:
            # Only where pods share one address (the conformance tests' loopback node): in the lab
            # every pod has its own IP, as with a CNI, and 444 is always free.
            self.writer.line(f"internal listener :{INTERNAL_HTTPS_PORT} not started: {error}")
        self.writer.line(f"Listening on {self.pod_ip}:{self.https_port} and :{self.http_port}")

    def stop(self) -> None:
        """SIGTERM: the listeners close and the process exits, requests in flight or not."""
        for server in self.servers:
            server.stop()
        self.servers = []
        self.writer.line('level=fatal msg="context canceled"')
