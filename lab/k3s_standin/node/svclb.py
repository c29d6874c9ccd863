"""klipper-lb "container": holds the service port on every address of the node and forwards each TCP
connection, bytes untouched (TLS passes through), to a ready endpoint of its Service.

The Service comes from the pod's `svccontroller.k3s.cattle.io/svcname|svcnamespace` labels and the
port from the container's SRC_PORT, as k3s's servicelb sets them.

Example:
    lb = SvclbContainer(api, pod, container); lb.start(); lb.stop()
"""

from __future__ import annotations

import itertools
import socket
import socketserver
import threading
from typing import Any

from k3s_standin.client import Client, path
from k3s_standin.node.listeners import Server, listen

Obj = dict[str, Any]


def endpoint_for(service: Obj, endpoints: Obj, src_port: int, turn: int) -> tuple[str, int] | None:
    """A ready (ip, port) behind the service port `src_port`, rotating with `turn`."""
    port = next((p for p in service["spec"].get("ports") or [] if int(p["port"]) == src_port), None)
    if port is None:
        return None
    candidates = []
    for subset in endpoints.get("subsets") or []:
        ports = subset.get("ports") or []
        match = next((p for p in ports if p.get("name", "") == port.get("name", "")), None)
        if match is None and len(ports) == 1:
            match = ports[0]
        if match is None:
            continue
        candidates += [(address["ip"], int(match["port"])) for address in subset.get("addresses") or []]
    if not candidates:
        return None
    return sorted(candidates)[turn % len(candidates)]


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (sink, source):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SvclbContainer:
    def __init__(self, api: Client, pod: Obj, container: Obj) -> None:
        labels = pod["metadata"].get("labels") or {}
        env = {item["name"]: item.get("value", "") for item in container.get("env") or []}
        self.api = api
        self.service = (labels.get("svccontroller.k3s.cattle.io/svcnamespace", ""),
                        labels.get("svccontroller.k3s.cattle.io/svcname", ""))
        self.port = int(env.get("SRC_PORT") or container["ports"][0]["containerPort"])
        self.counter = itertools.count()
        self.server: Server | None = None

    def target(self) -> tuple[str, int] | None:
        namespace, name = self.service
        service = self.api.find(path("v1", "services", namespace, name))
        endpoints = self.api.find(path("v1", "endpoints", namespace, name))
        if service is None or endpoints is None:
            return None
        return endpoint_for(service, endpoints, self.port, next(self.counter))

    def start(self) -> None:
        owner = self

        class Forward(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                target = owner.target()
                if target is None:
                    return
                try:
                    upstream = socket.create_connection(target, timeout=5)
                except OSError:
                    return
                upstream.settimeout(None)
                back = threading.Thread(target=pipe, args=(upstream, self.request), daemon=True)
                back.start()
                pipe(self.request, upstream)
                back.join()

        self.server = listen("0.0.0.0", self.port, Forward)

    def stop(self) -> None:
        if self.server:
            self.server.stop()
