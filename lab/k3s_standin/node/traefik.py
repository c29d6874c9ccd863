"""Traefik "container" (the packaged Traefik 2.11 of k3s): the `web` entry point (HTTP, container
port 8000) and `websecure` (TLS, 8443) on the pod IP, routing by Host header (web) or SNI and Host
(websecure) to the routes the kubelet writes into the shim's routes file (`ingress_routes.py`), and
proxying HTTP/1.1 to a backend endpoint.

Upstream: traefik/traefik v2.11
* pkg/tls/certificate_store.go + pkg/tls/generate/generate.go: a certificate by SNI from the
  Ingresses' TLS secrets, else the self-signed default certificate "TRAEFIK DEFAULT CERT";
* pkg/middlewares/forwardedheaders/forwarded_header.go: X-Forwarded-Proto/-For/-Host/-Port/-Server and
  X-Real-Ip set by Traefik; a client's own X-Forwarded-* kept only when its address is in
  `--entryPoints.<ep>.forwardedHeaders.trustedIPs` (or `.insecure`), else removed first;
* no matching router: 404 with the body "404 page not found"; an unreachable backend: 502 "Bad Gateway";
* a route with a retry middleware (`retryAttempts`, ingress_routes.py) tries again after an error
  before any response came back, up to its attempts in all, each try through the load balancer, so
  on the route's next server (pkg/middlewares/retry/retry.go; traefik docs "Retry": "as soon as the
  server answers, the middleware stops retrying, regardless of the response status"); the
  exponential backoff between tries is not modelled;
* on SIGTERM (pkg/server/server_entrypoint_tcp.go `TCPEntryPoint.Shutdown`, all entry points at
  once): each entry point keeps accepting and serving for its
  `--entryPoints.<ep>.transport.lifeCycle.requestAcceptGraceTimeout` (default 0: not at all), then
  closes its listener and gives requests in flight up to `...transport.lifeCycle.graceTimeOut`
  (default 10s) to finish, answering them with `Connection: close` as Go's `http.Server.Shutdown`
  turns keep-alives off; then the process exits. Flag names are case-insensitive, durations are Go
  durations or bare seconds (traefik docs "EntryPoints", transport.lifeCycle).
Backends are reached over plain HTTP (the chart's Service ports 80); request bodies need a
Content-Length (no chunked uploads).

Example:
    traefik = TraefikContainer("10.42.0.7", container, "/run/.../routes.json", writer); traefik.start()
    traefik.stop()   # SIGTERM: drains as its lifeCycle arguments say
"""

from __future__ import annotations

import http.client
import http.server
import ipaddress
import itertools
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from k3s_standin.controllers import durations
from k3s_standin.node.listeners import Server, listen
from k3s_standin.node.pod_logs import LogWriter

Obj = dict[str, Any]
DEFAULT_CN = "TRAEFIK DEFAULT CERT"
PORTS = {"web": 8000, "websecure": 8443}
HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
DEFAULT_GRACE_TIMEOUT = 10.0
FORWARDED = ("X-Forwarded-Proto", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port",
             "X-Forwarded-Server", "X-Forwarded-Prefix", "X-Real-Ip", "Forwarded")


def trusted_networks(args: list[str], entry_point: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """The entry point's trustedIPs from the container args; None means `insecure` (trust everyone)."""
    prefix = f"--entrypoints.{entry_point}.forwardedheaders."
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for arg in args:
        name, _, value = arg.partition("=")
        if not name.lower().startswith(prefix):
            continue
        option = name.lower().removeprefix(prefix)
        if option == "insecure" and value.lower() in ("", "true"):
            return None
        if option == "trustedips":
            networks += [ipaddress.ip_network(item.strip(), strict=False) for item in value.split(",") if item.strip()]
    return networks


def life_cycle(args: list[str], entry_point: str) -> tuple[float, float]:
    """(requestAcceptGraceTimeout, graceTimeOut) in seconds for the entry point, from the container args.

    Example:
        life_cycle(["--entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeout=5s"], "web")   # (5.0, 10.0)
    """
    prefix = f"--entrypoints.{entry_point}.transport.lifecycle."
    found = {"requestacceptgracetimeout": 0.0, "gracetimeout": DEFAULT_GRACE_TIMEOUT}
    for arg in args:
        name, _, value = arg.partition("=")
        option = name.lower().removeprefix(prefix)
        if name.lower().startswith(prefix) and option in found:
            found[option] = durations.parse(value)
    return found["requestacceptgracetimeout"], found["gracetimeout"]


class InFlight:
    """An entry point's requests being answered, and whether it is shutting down."""

    def __init__(self) -> None:
        self.active = 0
        self.closing = False
        self.changed = threading.Condition()

    @contextmanager
    def request(self) -> Iterator[None]:
        with self.changed:
            self.active += 1
        try:
            yield
        finally:
            with self.changed:
                self.active -= 1
                self.changed.notify_all()

    def drained(self, timeout: float) -> bool:
        """Wait until no request is in flight; False when `timeout` passed first."""
        with self.changed:
            return self.changed.wait_for(lambda: self.active == 0, timeout)


def is_trusted(address: str, networks: list[Any] | None) -> bool:
    if networks is None:
        return True
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in networks)


def host_of(value: str) -> str:
    """The Host header without its port, lower-case ("[::1]:80" -> "[::1]")."""
    if value.startswith("["):
        return value.split("]", 1)[0].lower() + "]"
    return value.rsplit(":", 1)[0].lower()


def path_matches(route: Obj, request_path: str) -> bool:
    if route["pathType"] == "Exact":
        return request_path == route["path"]
    prefix = route["path"].rstrip("/")
    return request_path == prefix or request_path.startswith(prefix + "/") or not prefix


def pick(routes: list[Obj], host: str, request_path: str) -> Obj | None:
    """Host rules before host-less ones, the longest path first (Traefik's rule-length priority)."""
    matching = [r for r in routes if r["host"] in (host, "") and path_matches(r, request_path)]
    return max(matching, key=lambda r: (r["host"] != "", len(r["path"])), default=None)


def default_certificate(directory: str) -> tuple[str, str]:
    """A fresh self-signed certificate, as Traefik generates one at start (RSA 2048, CN TRAEFIK DEFAULT CERT)."""
    cert, key = os.path.join(directory, "default.crt"), os.path.join(directory, "default.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
                    "-subj", f"/CN={DEFAULT_CN}", "-addext", "subjectAltName=DNS:traefik.default",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def context_for(cert_pem: str, key_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as directory:
        cert, key = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
        with open(cert, "w", encoding="utf-8") as handle:
            handle.write(cert_pem)
        with open(key, "w", encoding="utf-8") as handle:
            handle.write(key_pem)
        context.load_cert_chain(cert, key)
    return context


class RouteTable:
    """The routes file, re-read when it changes; TLS contexts per host built once per change."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.lock = threading.Lock()
        self.stamp = -1.0
        self.routes: list[Obj] = []
        self.contexts: dict[str, ssl.SSLContext] = {}
        self.turns = itertools.count()

    def refresh(self) -> None:
        try:
            stamp = os.stat(self.file_name).st_mtime_ns
        except FileNotFoundError:
            return
        with self.lock:
            if stamp == self.stamp:
                return
            with open(self.file_name, encoding="utf-8") as handle:
                table = json.load(handle)
            contexts = {}
            for item in table.get("certificates") or []:
                try:
                    context = context_for(item["cert"], item["key"])
                except (ssl.SSLError, OSError):
                    continue
                contexts.update({host: context for host in item["hosts"]})
            self.routes, self.contexts, self.stamp = table.get("routes") or [], contexts, stamp

    def route(self, host: str, request_path: str) -> Obj | None:
        self.refresh()
        return pick(self.routes, host, request_path)

    def server(self, route: Obj) -> tuple[str, int]:
        """The route's next server, round robin (Traefik's weighted round robin, equal weights)."""
        ip, port = route["backends"][next(self.turns) % len(route["backends"])]
        return ip, int(port)


class Proxy(http.server.BaseHTTPRequestHandler):
    """One entry point's handler; the class attributes are set per entry point."""

    protocol_version = "HTTP/1.1"
    table: RouteTable
    scheme = "http"
    port = 8000
    trusted: list[Any] | None = []
    in_flight: InFlight

    def handle_any(self) -> None:
        with self.in_flight.request():
            self.proxy()

    def end_headers(self) -> None:
        if self.in_flight.closing:
            self.send_header("Connection", "close")
            self.close_connection = True
        super().end_headers()

    def proxy(self) -> None:
        route = self.table.route(host_of(self.headers.get("Host") or ""), self.path.split("?")[0])
        if route is None:
            return self.answer(404, "404 page not found\n")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = self.forwarded_headers()
        for _ in range(int(route.get("retryAttempts") or 1)):
            try:
                upstream = http.client.HTTPConnection(*self.table.server(route), timeout=30)
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                break
            except OSError:
                continue
        else:
            return self.answer(502, "Bad Gateway")
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_HEADERS and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    def forwarded_headers(self) -> dict[str, str]:
        client = self.client_address[0]
        trusted = is_trusted(client, self.trusted)
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in HOP_HEADERS and (trusted or name not in FORWARDED)}
        mine = {"X-Forwarded-Proto": self.scheme, "X-Forwarded-Host": self.headers.get("Host", ""),
                "X-Forwarded-Port": str(self.port), "X-Forwarded-Server": socket.gethostname(), "X-Real-Ip": client}
        for name, value in mine.items():
            headers.setdefault(name, value)
        prior = headers.get("X-Forwarded-For")
        # Go's ReverseProxy appends the client address to what a trusted client sent.
        headers["X-Forwarded-For"] = f"{prior}, {client}" if prior else client
        return headers

    def answer(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        return


class TraefikContainer:
    def __init__(self, pod_ip: str, container: Obj, routes_file: str, writer: LogWriter) -> None:
        self.pod_ip = pod_ip
        self.args = list(container.get("args") or [])
        ports = {port.get("name", ""): int(port["containerPort"]) for port in container.get("ports") or []}
        self.ports = {name: ports.get(name, default) for name, default in PORTS.items()}
        self.table = RouteTable(routes_file)
        self.writer = writer
        self.directory = os.path.dirname(routes_file)
        self.servers: dict[str, Server] = {}
        self.in_flight = {name: InFlight() for name in PORTS}

    def handler(self, entry_point: str, scheme: str) -> type[Proxy]:
        return type(f"Proxy_{entry_point}", (Proxy,), {
            "table": self.table, "scheme": scheme, "port": self.ports[entry_point],
            "trusted": trusted_networks(self.args, entry_point), "in_flight": self.in_flight[entry_point]})

    def start(self) -> None:
        cert, key = default_certificate(self.directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        table = self.table

        def by_sni(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
            table.refresh()
            chosen = table.contexts.get((name or "").lower())
            if chosen is not None:
                sock.context = chosen

        context.sni_callback = by_sni
        self.servers["web"] = listen(self.pod_ip, self.ports["web"], self.handler("web", "http"))
        self.servers["websecure"] = listen(self.pod_ip, self.ports["websecure"], self.handler("websecure", "https"),
                                           context)
        self.writer.line(f"Traefik version 2.11 (standin): entryPoints web :{self.ports['web']}, "
                         f"websecure :{self.ports['websecure']}")
        self.writer.line("No default certificate, generating one")

    def shutdown(self, entry_point: str, server: Server) -> None:
        """One entry point's TCPEntryPoint.Shutdown."""
        accept_grace, grace = life_cycle(self.args, entry_point)
        if accept_grace > 0:
            self.writer.line(f"Waiting {durations_text(accept_grace)} for incoming requests to cease")
            time.sleep(accept_grace)
        self.in_flight[entry_point].closing = True
        server.stop()
        if not self.in_flight[entry_point].drained(grace):
            self.writer.line(f"Server failed to shutdown within deadline ({durations_text(grace)})")

    def stop(self) -> None:
        """SIGTERM: every entry point shuts down at once; returns when all are closed."""
        self.writer.line("I have to go...")
        self.writer.line("Stopping server gracefully")
        threads = [threading.Thread(target=self.shutdown, args=item) for item in self.servers.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.servers = {}
        self.writer.line("Server stopped")


def durations_text(seconds: float) -> str:
    """A duration as Traefik's log lines print short ones (Go's Duration String below a minute): 10s, 500ms."""
    return f"{seconds:g}s" if seconds >= 1 else f"{seconds * 1000:g}ms"
