"""Node IPAM (kube-controller-manager's range allocator): each node gets `spec.podCIDR(s)`, the next
free /24 of the cluster CIDR, which the node's pod network uses and the other nodes route to.

Example:
    NodeIpam(api, "10.42.0.0/16").reconcile()   # k3s-control -> 10.42.0.0/24, k3s-worker-1 -> 10.42.1.0/24
"""

from __future__ import annotations

import ipaddress
from typing import Any

from k3s_standin.client import Client, path
from k3s_standin.controllers import log

Obj = dict[str, Any]


def next_free(cluster_cidr: str, used: set[str], prefix: int = 24) -> str:
    for subnet in ipaddress.ip_network(cluster_cidr).subnets(new_prefix=prefix):
        if str(subnet) not in used:
            return str(subnet)
    raise RuntimeError(f"cluster CIDR {cluster_cidr} is full")


class NodeIpam:
    def __init__(self, api: Client, cluster_cidr: str) -> None:
        self.api = api
        self.cluster_cidr = cluster_cidr

    def reconcile(self) -> None:
        nodes = self.api.list(path("v1", "nodes"))
        used = {(node.get("spec") or {}).get("podCIDR") for node in nodes} - {None}
        for node in sorted(nodes, key=lambda n: n["metadata"].get("creationTimestamp", "")):
            if (node.get("spec") or {}).get("podCIDR"):
                continue
            cidr = next_free(self.cluster_cidr, used)
            used.add(cidr)

            def assign(obj: Obj, cidr: str = cidr) -> bool:
                if obj.setdefault("spec", {}).get("podCIDR"):
                    return False
                obj["spec"]["podCIDR"], obj["spec"]["podCIDRs"] = cidr, [cidr]
                return True

            self.api.mutate(path("v1", "nodes", name=node["metadata"]["name"]), assign)
            log.info(f"Set node {node['metadata']['name']} PodCIDR to [{cidr}]")
