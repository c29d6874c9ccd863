"""Pod garbage collector: pods bound to a node that no longer exists are force-deleted (grace 0),
as kube-controller-manager's PodGC does; nothing else would ever confirm their deletion.

As upstream (kubernetes ``pkg/controller/podgc/gc_controller.go``, ``gcOrphaned``: a missing node goes
into a delaying queue for ``quarantineTime = 40 * time.Second`` and its pods are deleted only if it is
still missing then), a node must have been missing for 40 s: a pod bound to a node that is just about
to register (a server's own kubelet a moment after the controllers start) is not an orphan.

Example:
    gc = PodGC(api); gc.reconcile()   # on the controllers' loop
"""

from __future__ import annotations

import time

from k3s_standin.client import Client, object_path, path
from k3s_standin.controllers import log

QUARANTINE_SECONDS = 40.0


class PodGC:
    def __init__(self, api: Client, quarantine: float = QUARANTINE_SECONDS) -> None:
        self.api = api
        self.quarantine = quarantine
        self.missing_since: dict[str, float] = {}

    def reconcile(self) -> None:
        pods = [pod for pod in self.api.list(path("v1", "pods")) if (pod.get("spec") or {}).get("nodeName")]
        nodes = {node["metadata"]["name"] for node in self.api.list(path("v1", "nodes"))} if pods else set()
        now = time.monotonic()
        missing = {pod["spec"]["nodeName"] for pod in pods} - nodes
        self.missing_since = {name: self.missing_since.get(name, now) for name in missing}
        for pod in pods:
            node = pod["spec"]["nodeName"]
            if node in missing and now - self.missing_since[node] >= self.quarantine:
                self.api.delete(object_path("v1", "pods", pod), grace=0)
                log.info(f"PodGC: force-deleted orphaned pod {pod['metadata']['namespace']}/"
                         f"{pod['metadata']['name']} (node {node} is gone)")
