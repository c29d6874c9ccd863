"""Pod networking, host-gw style (what flannel's host-gw backend does, minus the bridge): pod IPs
from the node's podCIDR live as /32 addresses on the loopback device (kernels built without
the dummy link type have no other place for them), and every other node's podCIDR is routed via
that node's InternalIP. Only lab subnets are ever routed: no default route,
no NAT to the outside. With `flannel-backend: none` there is no pod network and pods use the node IP.

Example:
    network = PodNetwork("10.213.0.111"); network.sync_routes(nodes, "k3s-worker-1")
"""

from __future__ import annotations

import ipaddress
import subprocess
import threading
from typing import Any

from k3s_standin.controllers import log

Obj = dict[str, Any]
DEVICE = "lo"


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def wanted_routes(nodes: list[Obj], me: str) -> dict[str, str]:
    """podCIDR -> gateway InternalIP for every other node that has both."""
    routes = {}
    for node in nodes:
        if node["metadata"]["name"] == me:
            continue
        cidr = (node.get("spec") or {}).get("podCIDR")
        internal = next((a["address"] for a in (node.get("status") or {}).get("addresses") or []
                         if a.get("type") == "InternalIP"), None)
        if cidr and internal:
            routes[cidr] = internal
    return routes


class PodNetwork:
    """Allocates pod IPs from this node's podCIDR and keeps addresses and routes in place."""

    def __init__(self, node_ip: str, cluster_cidr: str) -> None:
        self.node_ip = node_ip
        self.cluster = ipaddress.ip_network(cluster_cidr)
        self.cidr: ipaddress.IPv4Network | None = None
        self.lock = threading.Lock()
        self.assigned: dict[str, str] = {}
        self.routes: dict[str, str] = {}
        self.unroutable: set[str] = set()

    def setup(self, pod_cidr: str) -> None:
        self.cidr = ipaddress.ip_network(pod_cidr)
        log.info(f"Pod network: pod addresses on {DEVICE} for {pod_cidr}")

    def allocate(self, uid: str, previous: str = "") -> str:
        """An address for the pod: its previous one if still ours, else the lowest free one (.1 is the gateway)."""
        with self.lock:
            if uid in self.assigned:
                return self.assigned[uid]
            if self.cidr is None:
                return self.node_ip
            taken = set(self.assigned.values())
            if previous and ipaddress.ip_address(previous) in self.cidr and previous not in taken:
                address = previous
            else:
                address = next(str(h) for h in list(self.cidr.hosts())[1:] if str(h) not in taken)
            self.assigned[uid] = address
        ip("addr", "replace", f"{address}/32", "dev", DEVICE)
        return address

    def release(self, uid: str) -> None:
        with self.lock:
            address = self.assigned.pop(uid, None)
        if address and self.cidr is not None:
            ip("addr", "del", f"{address}/32", "dev", DEVICE)

    def sync_routes(self, nodes: list[Obj], me: str) -> None:
        wanted = {cidr: gateway for cidr, gateway in wanted_routes(nodes, me).items()
                  if ipaddress.ip_network(cidr).subnet_of(self.cluster)}
        for cidr, gateway in wanted.items():
            # A gateway the kernel refused once (not on this node's link) is not retried every pass.
            if self.routes.get(cidr) != gateway and gateway not in self.unroutable:
                result = ip("route", "replace", cidr, "via", gateway)
                if result.returncode == 0:
                    self.routes[cidr] = gateway
                    log.info(f"Route {cidr} via {gateway}")
                else:
                    self.unroutable.add(gateway)
                    log.error(f"ip route replace {cidr} via {gateway}: {result.stderr.strip()}")
        for cidr in set(self.routes) - set(wanted):
            ip("route", "del", cidr)
            del self.routes[cidr]
