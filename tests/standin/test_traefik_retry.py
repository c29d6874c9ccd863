"""Traefik's retry middleware, referenced from an Ingress's router.middlewares annotation: with one of
the Service's two endpoints refusing connections (a pod whose process exited on SIGTERM before
Traefik's routes dropped it), every request is answered by the other; without the middleware about
every other request is a 502; an annotation naming no Middleware leaves the Ingress unrouted."""

from __future__ import annotations

import http.client
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import free_port
from k3s_standin.node import ingress_routes, svclb
from k3s_standin.node.pod_logs import LogWriter
from k3s_standin.node.traefik import TraefikContainer
from pong_backend import Pong

RETRY = {"metadata": {"namespace": "cattle-system", "name": "rancher-retry"}, "spec": {"retry": {"attempts": 3}}}
ANNOTATION = {ingress_routes.MIDDLEWARES_ANNOTATION: "cattle-system-rancher-retry@kubernetescrd"}


def ingress(annotations: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"namespace": "cattle-system", "name": "rancher", "annotations": annotations}, "spec": {
        "rules": [{"host": "rancher.lab", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "rancher", "port": {"number": 80}}}}]}}]}}


def table(annotations: dict[str, str], refused_port: int, live_port: int) -> dict[str, Any]:
    service = {"metadata": {"namespace": "cattle-system", "name": "rancher"},
               "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 80}]}}
    endpoints = {"metadata": {"namespace": "cattle-system", "name": "rancher"}, "subsets": [
        {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": live_port}]},
        {"addresses": [{"ip": "127.0.0.2"}], "ports": [{"name": "http", "port": refused_port}]}]}
    return ingress_routes.routes([ingress(annotations)], [service], [endpoints], [], [RETRY])


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Any]:
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pong)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    ports = {"web": free_port(), "websecure": free_port()}
    container = TraefikContainer("127.0.0.1", {"ports": [{"name": "web", "containerPort": ports["web"]},
                                                         {"name": "websecure", "containerPort": ports["websecure"]}],
                                               "args": []},
                                 str(tmp_path / "routes.json"), LogWriter(str(tmp_path / "traefik" / "0.log")))

    def statuses(annotations: dict[str, str]) -> list[int]:
        svclb.write_targets(str(tmp_path / "routes.json"), table(annotations, free_port(), backend.server_address[1]))
        found = []
        for _ in range(6):
            connection = http.client.HTTPConnection("127.0.0.1", ports["web"], timeout=5)
            connection.request("GET", "/ping", headers={"Host": "rancher.lab"})
            found.append(connection.getresponse().status)
            connection.close()
        return found

    container.start()
    yield statuses
    container.stop()
    backend.shutdown()


def test_with_the_retry_middleware_every_request_reaches_the_live_endpoint(proxied) -> None:
    assert proxied(ANNOTATION) == [200] * 6


def test_without_it_requests_to_the_refusing_endpoint_fail_with_502(proxied) -> None:
    assert sorted(set(proxied({}))) == [200, 502]


def test_a_middleware_that_does_not_exist_leaves_the_ingress_unrouted() -> None:
    missing = {ingress_routes.MIDDLEWARES_ANNOTATION: "cattle-system-nothing@kubernetescrd"}
    assert table(missing, 1, 2)["routes"] == []
    assert table(ANNOTATION, 1, 2)["routes"][0]["retryAttempts"] == 3
