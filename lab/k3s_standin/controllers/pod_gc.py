"""Pod garbage collector: pods bound to a node that no longer exists are force-deleted (grace 0),
as kube-controller-manager's PodGC does; nothing else would ever confirm their deletion.

Example:
    PodGC(api).reconcile()
"""

from __future__ import annotations

from k3s_standin.client import Client, object_path, path
from k3s_standin.controllers import log


class PodGC:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        pods = [pod for pod in self.api.list(path("v1", "pods")) if (pod.get("spec") or {}).get("nodeName")]
        if not pods:
            return
        nodes = {node["metadata"]["name"] for node in self.api.list(path("v1", "nodes"))}
        for pod in pods:
            if pod["spec"]["nodeName"] not in nodes:
                self.api.delete(object_path("v1", "pods", pod), grace=0)
                log.info(f"PodGC: force-deleted orphaned pod {pod['metadata']['namespace']}/"
                         f"{pod['metadata']['name']} (node {pod['spec']['nodeName']} is gone)")
