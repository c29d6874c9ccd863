"""Traefik on SIGTERM (the container's stop): without requestAcceptGraceTimeout its entry points close
at once and a request in flight still finishes; with it, they keep serving new requests for that long
first (traefik/traefik pkg/server/server_entrypoint_tcp.go `TCPEntryPoint.Shutdown`)."""

from __future__ import annotations

import http.client
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import free_port
from k3s_standin.node import svclb
from k3s_standin.node.pod_logs import LogWriter
from k3s_standin.node.traefik import TraefikContainer, life_cycle
from pong_backend import SLOW_SECONDS, Pong


@pytest.fixture
def start_traefik(tmp_path: Path) -> Iterator[Callable[..., tuple[TraefikContainer, int]]]:
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pong)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    routes = {"routes": [{"host": "rancher.lab", "path": "/", "pathType": "Prefix",
                          "backends": [["127.0.0.1", backend.server_address[1]]]}], "certificates": []}
    svclb.write_targets(str(tmp_path / "routes.json"), routes)
    started: list[TraefikContainer] = []

    def start(*args: str) -> tuple[TraefikContainer, int]:
        web = free_port()
        container = TraefikContainer("127.0.0.1", {"ports": [{"name": "web", "containerPort": web},
                                                             {"name": "websecure", "containerPort": free_port()}],
                                                   "args": list(args)},
                                     str(tmp_path / "routes.json"), LogWriter(str(tmp_path / "traefik" / "0.log")))
        container.start()
        started.append(container)
        return container, web

    yield start
    for container in started:
        if container.servers:
            container.stop()
    backend.shutdown()


def get(port: int, path: str = "/ping") -> tuple[int, str]:
    """(status, Connection header) of one request through the `web` entry point."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Host": "rancher.lab"})
    response = conn.getresponse()
    response.read()
    return response.status, response.getheader("Connection") or ""


def stop_in_background(container: TraefikContainer) -> threading.Thread:
    thread = threading.Thread(target=container.stop)
    thread.start()
    return thread


def test_life_cycle_arguments_are_case_insensitive_go_durations() -> None:
    args = ["--entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeout=1m30s",
            "--entrypoints.web.transport.lifecycle.gracetimeout=3"]
    assert life_cycle(args, "web") == (90.0, 3.0)
    assert life_cycle(args, "websecure") == (0.0, 10.0)


def test_without_accept_grace_new_connections_fail_at_once_but_in_flight_finishes(start_traefik) -> None:
    container, web = start_traefik()
    assert get(web) == (200, "")
    slow: list[tuple[int, str]] = []
    request = threading.Thread(target=lambda: slow.append(get(web, "/slow")))
    request.start()
    time.sleep(0.2)
    began = time.monotonic()
    stopping = stop_in_background(container)
    time.sleep(0.8)
    with pytest.raises(ConnectionRefusedError):
        get(web)
    request.join()
    stopping.join()
    assert slow == [(200, "close")]
    assert time.monotonic() - began >= SLOW_SECONDS - 0.3


def test_accept_grace_keeps_serving_new_requests_then_closes(start_traefik) -> None:
    container, web = start_traefik("--entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeout=2s")
    began = time.monotonic()
    stopping = stop_in_background(container)
    answers = []
    while time.monotonic() - began < 1.6:
        answers.append(get(web))
        time.sleep(0.1)
    assert answers and set(answers) == {(200, "")}
    stopping.join()
    assert time.monotonic() - began >= 2.0
    with pytest.raises(ConnectionRefusedError):
        get(web)
