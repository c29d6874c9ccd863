"""Scale mode (`k3s scale-nodes N`, stand-in only): registers N simulated nodes `scale-node-NNNN`
and keeps them alive from one thread (Lease renewals and Ready heartbeats), for watcher benchmarks.
The nodes run no pods. Blocks until interrupted.

Example:
    register(options, 1000)
"""

from __future__ import annotations

import time
from typing import Any

from k3s_standin import K3S_VERSION, client
from k3s_standin.client import ApiError, Client, path
from k3s_standin.controllers import clock, durations, log

Obj = dict[str, Any]
PREFIX = "scale-node-"


def simulated_node(index: int) -> Obj:
    """A node whose InternalIP is in 198.18.0.0/15 (RFC 2544 benchmarking range): data only, never dialled."""
    name = f"{PREFIX}{index:04d}"
    now = clock.rfc3339()
    address = f"198.{18 + index // 65000}.{index // 250 % 256}.{index % 250 + 1}"
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  "kubernetes.io/arch": "amd64", "standin.k3s.io/simulated": "true"}},
            "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                                       "lastTransitionTime": now}],
                       "addresses": [{"type": "InternalIP", "address": address},
                                     {"type": "Hostname", "address": name}],
                       "nodeInfo": {"kubeletVersion": K3S_VERSION, "kubeProxyVersion": K3S_VERSION,
                                    "operatingSystem": "linux", "architecture": "amd64",
                                    "containerRuntimeVersion": "containerd://1.7.23-k3s2",
                                    "osImage": "Simulated", "kernelVersion": "simulated"}}}


def lease(name: str) -> Obj:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": clock.micro()}}


def ensure(api: Client, index: int) -> str:
    """Create the node (status included, as a kubelet's registration does) and its Lease."""
    node = simulated_node(index)
    name = node["metadata"]["name"]
    try:
        created = api.create(path("v1", "nodes"), node)
        api.update(path("v1", "nodes", name=name, subresource="status"), dict(created, status=node["status"]))
    except ApiError as error:
        if error.code != 409:
            raise
    try:
        api.create(path("coordination.k8s.io/v1", "leases", "kube-node-lease"), lease(name))
    except ApiError as error:
        if error.code != 409:
            raise
    return name


def renew(api: Client, name: str) -> None:
    """One merge patch per node, as cheap as a kubelet's lease update."""
    api.patch(path("coordination.k8s.io/v1", "leases", "kube-node-lease", name),
              {"spec": {"renewTime": clock.micro()}})


def register(options: Any, n: int) -> None:
    """Register `n` simulated nodes and renew their Leases every node-status-update-frequency."""
    api = client.for_options(options, log=log.info)
    period = durations.seconds("node-status-update-frequency", dict(options.kubelet_args), 10.0)
    names = [ensure(api, index) for index in range(n)]
    log.info(f"Registered {len(names)} simulated nodes; renewing their leases every {period:g}s")
    while True:
        started = time.monotonic()
        for name in names:
            renew(api, name)
        time.sleep(max(0.0, period - (time.monotonic() - started)))
