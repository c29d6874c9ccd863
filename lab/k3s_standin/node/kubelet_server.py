"""The kubelet's HTTPS server, the part the API server uses for `kubectl logs`:
`GET /containerLogs/<namespace>/<pod>/<container>?tailLines=N&previous=true` (text/plain) from the
container's log file under /var/log/pods (`pod_logs.py`).

Upstream: kubernetes/kubernetes pkg/kubelet/server/server.go (`getContainerLogs`, port from the
kubelet's `--port`, default 10250, reported as the Node's `status.daemonEndpoints.kubeletEndpoint.Port`),
pkg/kubelet/kubelet_pods.go (`GetKubeletContainerLogs`: 'pod "x" cannot be found - no logs
available'; `validateContainerLogStatus`: 'previous terminated container "c" in pod "x" not found',
'container "c" in pod "x" is waiting to start: trying and failing to pull image',
"container c is not valid for pod x"). k3s (pkg/agent/config) gives the kubelet on every node,
server or agent, the serving certificate `serving-kubelet.crt` signed by the server CA and the
client CA to verify callers (`kubelet_certs.py`), kubelet flags `tls-cert-file`, `client-ca-file`.

Authentication: a client certificate signed by the cluster's client CA (kube-apiserver's
`client-kube-apiserver.crt`). The kubelet requests any certificate (cmd/kubelet/app/server.go
`InitializeTLS`: `tls.RequestClientCert`, `ClientCAs` from client-ca-file) and its x509 authenticator
refuses one from another CA with 401 "Unauthorized" (`client_cert_request.py`). The stand-in
also admits `Authorization: Bearer <the cluster token>`, its stand-in for the kubelet's webhook token
authentication. Anything else is 401 "Unauthorized" (the kubelet runs with anonymous-auth=false).

Example:
    server = KubeletServer(certs, 10250, token, pods.runtime_of); server.start()
"""

from __future__ import annotations

import http.server
import os
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from k3s_standin.certs import token_password
from k3s_standin.client_cert_request import request_client_cert, verified
from k3s_standin.controllers import log
from k3s_standin.node import pod_logs
from k3s_standin.node.kubelet_certs import KubeletCerts
from k3s_standin.node.runtime import PodRuntime

Obj = dict[str, Any]
DEFAULT_PORT = 10250
Lookup = Callable[[str, str], "PodRuntime | None"]


def kubelet_port(kubelet_args: dict[str, str]) -> int:
    return int(kubelet_args.get("port") or DEFAULT_PORT)


class LogError(Exception):
    """A log request the kubelet refuses; `code` is the HTTP status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def container_log(runtime: PodRuntime | None, namespace: str, name: str, container: str,
                  previous: bool, tail: int | None) -> list[str]:
    """The lines `kubectl logs` shows, or the kubelet's error."""
    if runtime is None:
        raise LogError(404, f'pod "{name}" cannot be found - no logs available')
    state = next((c for c in runtime.containers if c.name == container), None)
    if state is None:
        raise LogError(400, f"container {container} is not valid for pod {name}")
    if state.error and not previous:
        why = "trying and failing to pull image" if "pull image" in state.error else "ContainerCreating"
        raise LogError(400, f'container "{container}" in pod "{name}" is waiting to start: {why}')
    current = runtime.restart_count + state.restarts
    wanted = current - 1 if previous else current
    file_name = pod_logs.log_file(runtime.pod["metadata"], container, wanted)
    if previous and (wanted < 0 or not os.path.exists(file_name)):
        raise LogError(400, f'previous terminated container "{container}" in pod "{name}" not found')
    try:
        return pod_logs.read_lines(file_name, tail)
    except FileNotFoundError:
        return []


class KubeletServer:
    def __init__(self, certs: KubeletCerts, port: int, token: str, lookup: Lookup) -> None:
        self.certs, self.port = certs, port
        self.password = token_password(token)
        self.lookup = lookup
        self.server: http.server.ThreadingHTTPServer | None = None

    def context(self) -> ssl.SSLContext:
        """Our serving certificate; a client certificate is asked for, optional (a bearer token also
        admits), and admits only when it chains to the client CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certs.serving_cert, self.certs.serving_key)
        request_client_cert(context, self.certs.client_ca)
        return context

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def authorized(self) -> bool:
                if verified(self.connection):
                    return True
                bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
                return bool(bearer) and token_password(bearer) == owner.password

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urllib.parse.urlsplit(self.path)
                parts = url.path.strip("/").split("/")
                if not self.authorized():
                    return self.answer(401, "Unauthorized")
                if len(parts) != 4 or parts[0] != "containerLogs":
                    return self.answer(404, "404 page not found")
                query = urllib.parse.parse_qs(url.query)
                tail = int(query["tailLines"][0]) if query.get("tailLines") else None
                previous = (query.get("previous") or ["false"])[0] == "true"
                _, namespace, name, container = parts
                try:
                    lines = container_log(owner.lookup(namespace, name), namespace, name, container, previous, tail)
                except LogError as error:
                    return self.answer(error.code, str(error))
                self.answer(200, "".join(f"{line}\n" for line in lines))

            def answer(self, code: int, text: str) -> None:
                data = text.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        return Handler

    def start(self) -> None:
        """Serve on a daemon thread; a port in use is logged (the node keeps running without logs)."""
        try:
            server = http.server.ThreadingHTTPServer(("0.0.0.0", self.port), self.handler())
        except OSError as error:
            log.error(f"Failed to listen on 0.0.0.0:{self.port} for the kubelet server: {error.strerror}")
            return
        server.daemon_threads = True
        server.socket = self.context().wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self.server = server
        threading.Thread(target=server.serve_forever, name="kubelet-server", daemon=True).start()
        log.info(f"Starting to listen on 0.0.0.0:{self.port} (kubelet server)")
