"""The node side of `k3s server` and `k3s agent`: kubelet, kube-proxy and the pod network.

Upstream: k3s-io/k3s pkg/agent/run.go.

Start-up order and failures follow k3s: the kubelet opens `/dev/kmsg` first and kube-proxy raises
`nf_conntrack_max`; either failing is fatal (`Error: ...` on stderr, exit 1) so systemd's Restart=
loops exactly as with real k3s in an LXC container. Once the server answers, the node takes its
kubelet's certificates from the supervisor (`kubelet_certs.py`, pkg/agent/config `Get`) before it
registers. Stopping leaves the pods running in their shims.

Example:
    sys.exit(run(options))
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from k3s_standin import client
from k3s_standin.client import ApiError, path
from k3s_standin.controllers import durations, log, loop
from k3s_standin.node import conntrack, kmsg
from k3s_standin.node.image_store import ImageStore
from k3s_standin.node.kube_proxy import KubeProxy
from k3s_standin.node.kubelet import Kubelet
from k3s_standin.node.kubelet_certs import ensure_kubelet_certs
from k3s_standin.node.node_object import NodeSpecError
from k3s_standin.node.pod_network import PodNetwork
from k3s_standin.systemd_notify import notify_ready


def fatal(component: str, error: str) -> int:
    """Print the component's error as k3s does (cobra's `Error:` line, then the fatal log line)."""
    print(f"Error: {error}", file=sys.stderr, flush=True)
    log.emit("fatal", f"{component} exited: {error}")
    return 1


def detect_node_ip() -> str:
    """k3s's default: the first global IPv4 address of the host."""
    output = subprocess.run(["ip", "-o", "-4", "addr", "show", "scope", "global"],
                            capture_output=True, text=True, check=False).stdout
    for line in output.splitlines():
        fields = line.split()
        if len(fields) > 3:
            return fields[3].split("/")[0]
    return "127.0.0.1"


def wait_for_pod_cidr(api: client.Client, name: str) -> str:
    """Node IPAM in the server assigns spec.podCIDR shortly after registration."""
    while True:
        node = api.find(path("v1", "nodes", name=name)) or {}
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            return cidr
        time.sleep(1.0)


def register(kubelet: Kubelet) -> None:
    while True:
        try:
            kubelet.register()
            return
        except (ApiError, OSError) as error:
            log.error(f"Unable to register node {kubelet.name} with API server: {error}")
            time.sleep(2.0)


def start_network(api: client.Client, options: Any, network: PodNetwork) -> None:
    network.setup(wait_for_pod_cidr(api, options.node_name))
    loop.every("flannel", 2.0, lambda: network.sync_routes(api.list(path("v1", "nodes")), options.node_name))


def announce_agent_ready(options: Any) -> None:
    """`k3s agent` tells systemd READY=1 once its Node is registered and the network is up (its
    upstream unit is Type=notify); in `k3s server` the server already did. As k3s-io/k3s
    pkg/agent/run.go `run`: after the kubelet started and `startNetwork` (node configured, CNI up)."""
    if options.role == "agent":
        log.info("k3s agent is up and running")
        notify_ready()


def run(options: Any) -> int:
    """Run the node until SIGTERM (exit 0) or a fatal start-up error (exit 1)."""
    error = kmsg.open_kmsg()
    if error:
        return fatal("kubelet", error)
    if not options.disable_kube_proxy:
        error = conntrack.ensure_max(dict(options.kube_proxy_args))
        if error:
            return fatal("kube-proxy", error)
    # containerd imports the air-gap archives before the kubelet starts (k3s pkg/agent/containerd).
    ImageStore(options.data_dir).preload()
    node_ip = options.node_ip or detect_node_ip()
    api = client.for_options(options, log=log.info)
    certs = ensure_kubelet_certs(api, options.data_dir, options.node_name, node_ip)
    network = None if options.flannel_backend == "none" else PodNetwork(node_ip, options.cluster_cidr)
    kubelet = Kubelet(api, options, node_ip, network, certs)
    try:
        register(kubelet)
    except NodeSpecError as bad:
        return fatal("kubelet", str(bad))
    kubelet.server.start()
    if network is not None:
        start_network(api, options, network)
    if not options.disable_kube_proxy:
        proxy = KubeProxy(api, node_ip, options.service_cidr)
        proxy.setup()
        loop.every("kube-proxy", 2.0, proxy.sync)
    announce_agent_ready(options)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    status_period = durations.seconds("node-status-update-frequency", dict(options.kubelet_args), 10.0)
    try:
        kubelet.loop_forever(status_period)
    except SystemExit:
        # KillMode=process: the pods' shims keep running; the next kubelet adopts them.
        return 0
    return 0
