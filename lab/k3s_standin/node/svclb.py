"""klipper-lb "container": holds the service port on every address of the node and forwards each TCP
connection, bytes untouched (TLS passes through), to a ready endpoint of its Service.

Upstream: k3s-io/klipper-lb (the svclb pod's forwarding) and k3s-io/k3s pkg/cloudprovider/servicelb.go.

The Service comes from the pod's `svccontroller.k3s.cattle.io/svcname|svcnamespace` labels and the
port from the container's SRC_PORT, as k3s's servicelb sets them. The container runs in the pod's
shim and has no API access; the kubelet writes the Service's ready endpoints into the shim's
targets file (`write_targets`). While the kubelet is down the last ones stay in use, as klipper-lb's
DNAT and kube-proxy's rules stay in place while k3s is stopped.

Example:
    lb = SvclbContainer(container, "/run/k3s/.../targets.json"); lb.start(); lb.stop()
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import socketserver
import threading
from typing import Any

from k3s_standin.node.listeners import Server, listen

Obj = dict[str, Any]


def endpoint_candidates(service: Obj, endpoints: Obj, src_port: int) -> list[tuple[str, int]]:
    """Every ready (ip, port) behind the service port `src_port`, sorted."""
    port = next((p for p in service["spec"].get("ports") or [] if int(p["port"]) == src_port), None)
    if port is None:
        return []
    candidates = []
    for subset in endpoints.get("subsets") or []:
        ports = subset.get("ports") or []
        match = next((p for p in ports if p.get("name", "") == port.get("name", "")), None)
        if match is None and len(ports) == 1:
            match = ports[0]
        if match is None:
            continue
        candidates += [(address["ip"], int(match["port"])) for address in subset.get("addresses") or []]
    return sorted(candidates)


def endpoint_for(service: Obj, endpoints: Obj, src_port: int, turn: int) -> tuple[str, int] | None:
    """A ready (ip, port) behind the service port `src_port`, rotating with `turn`."""
    candidates = endpoint_candidates(service, endpoints, src_port)
    return candidates[turn % len(candidates)] if candidates else None


def service_of(pod: Obj) -> tuple[str, str]:
    """(namespace, name) of the Service an svclb pod serves, from k3s's servicelb labels."""
    labels = pod["metadata"].get("labels") or {}
    return (labels.get("svccontroller.k3s.cattle.io/svcnamespace", ""),
            labels.get("svccontroller.k3s.cattle.io/svcname", ""))


def src_port(container: Obj) -> int:
    env = {item["name"]: item.get("value", "") for item in container.get("env") or []}
    return int(env.get("SRC_PORT") or container["ports"][0]["containerPort"])


def targets(pod: Obj, service: Obj | None, endpoints: Obj | None) -> dict[str, list[tuple[str, int]]]:
    """SRC_PORT -> ready endpoints, for each container of an svclb pod (the targets file's content)."""
    if service is None or endpoints is None:
        return {}
    return {str(src_port(spec)): endpoint_candidates(service, endpoints, src_port(spec))
            for spec in pod["spec"].get("containers") or []}


def write_targets(file_name: str, wanted: dict[str, Any]) -> None:
    """Replace the targets (or routes) file atomically: a connection reads it whole or not at all."""
    partial = f"{file_name}.partial"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(wanted, handle)
    os.replace(partial, file_name)


def read_targets(file_name: str, port: int) -> list[tuple[str, int]]:
    try:
        with open(file_name, encoding="utf-8") as handle:
            return [(ip, int(number)) for ip, number in json.load(handle).get(str(port), [])]
    except (OSError, ValueError):
        return []


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
    def __init__(self, container: Obj, targets_file: str) -> None:
        self.port = src_port(container)
        self.targets_file = targets_file
        self.counter = itertools.count()
        self.server: Server | None = None

    def target(self) -> tuple[str, int] | None:
        candidates = read_targets(self.targets_file, self.port)
        return candidates[next(self.counter) % len(candidates)] if candidates else None

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
