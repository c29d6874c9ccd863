"""The cluster as the Kubernetes API sees it, through the control node's own kubeconfig.

Example:
    path = write_kubeconfig(control.host.file(KUBECONFIG).content_string, "10.0.0.1", directory)
    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(path))
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import yaml
from kubernetes.client import V1Node, V1Pod

from facts.names import WATCHED_TAINT_KEYS

KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
BLOCKING_TAINTS = frozenset(WATCHED_TAINT_KEYS)
SVCLB_PREFIX = "svclb-"


def rewrite_server(kubeconfig_text: str, address: str) -> str:
    """The kubeconfig with every cluster's server pointed at ``address`` (port kept).

    k3s writes ``https://127.0.0.1:6443``, which only works on the control node itself.
    """
    kubeconfig = yaml.safe_load(kubeconfig_text)
    for cluster in kubeconfig.get("clusters", []):
        server = urlsplit(cluster["cluster"]["server"])
        netloc = f"{address}:{server.port}" if server.port else address
        cluster["cluster"]["server"] = urlunsplit(server._replace(netloc=netloc))
    return yaml.safe_dump(kubeconfig)


def write_kubeconfig(kubeconfig_text: str, address: str, directory: str) -> str:
    """Write the rewritten kubeconfig as a 0600 file in ``directory``; return its path."""
    path = os.path.join(directory, "kubeconfig.yaml")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as kubeconfig_file:
        kubeconfig_file.write(rewrite_server(kubeconfig_text, address))
    return path


def ready_status(node: V1Node) -> str:
    """The node's Ready condition status: ``True``, ``False``, ``Unknown`` (or ``missing``)."""
    for condition in (node.status.conditions if node.status else None) or []:
        if condition.type == "Ready":
            return condition.status
    return "missing"


def blocking_taints(node: V1Node) -> list[str]:
    """``key:effect`` of the node's unreachable / not-ready taints."""
    return sorted(
        f"{taint.key}:{taint.effect}"
        for taint in (node.spec.taints if node.spec else None) or []
        if taint.key in BLOCKING_TAINTS
    )


def pending_svclb_pods(pods: list[V1Pod]) -> dict[str, str]:
    """Pending ServiceLB pods and the scheduler's message for each."""
    names = {pod.metadata.name: pod for pod in pods if pod.metadata and pod.metadata.name}
    return {
        name: scheduling_message(pod)
        for name, pod in names.items()
        if name.startswith(SVCLB_PREFIX) and pod.status and pod.status.phase == "Pending"
    }


def scheduling_message(pod: V1Pod) -> str:
    """Why the scheduler left the pod Pending (its PodScheduled condition), or ``unknown``."""
    for condition in (pod.status.conditions if pod.status else None) or []:
        if condition.type == "PodScheduled" and condition.message:
            return condition.message
    return "unknown"
