"""ReplicaSet controller: keeps `spec.replicas` active pods (`<rs>-<5 chars>`), replacing deleted
or evicted ones, and reports replicas/ready/available in status.

Example:
    ReplicaSets(api).reconcile()
"""

from __future__ import annotations

import copy
from typing import Any

from k3s_standin.client import Client, object_path, path
from k3s_standin.controllers import events, log, names, scheduling

Obj = dict[str, Any]


def pod_ready(pod: Obj) -> bool:
    return any(item.get("type") == "Ready" and item.get("status") == "True"
               for item in (pod.get("status") or {}).get("conditions") or [])


def new_pod(rs: Obj) -> Obj:
    template = copy.deepcopy(rs["spec"]["template"])
    meta = template.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{rs['metadata']['name']}-{names.suffix()}",
                         "namespace": rs["metadata"]["namespace"],
                         "labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {},
                         "ownerReferences": [names.owner_reference("apps/v1", "ReplicaSet", rs)]},
            "spec": template.get("spec") or {}}


def removal_order(pod: Obj) -> tuple[int, int, str]:
    """Scale-down prefers unscheduled, then not ready, then the newest pods, as Kubernetes does."""
    scheduled = 1 if (pod.get("spec") or {}).get("nodeName") else 0
    return (scheduled, 1 if pod_ready(pod) else 0, "~" + pod["metadata"].get("creationTimestamp", ""))


def replica_status(rs: Obj, pods: list[Obj]) -> Obj:
    ready = sum(1 for pod in pods if pod_ready(pod))
    return {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
            "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}


class ReplicaSets:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        pods = self.api.list(path("v1", "pods"))
        for rs in self.api.list(path("apps/v1", "replicasets")):
            owned = [pod for pod in pods if names.controlled_by(pod, rs) and scheduling.active(pod)]
            owned = self.scale(rs, owned)
            status = replica_status(rs, owned)
            if any((rs.get("status") or {}).get(key) != value for key, value in status.items()):
                def write(obj: Obj) -> bool:
                    obj.setdefault("status", {}).update(status)
                    return True

                self.api.mutate(object_path("apps/v1", "replicasets", rs, "status"), write)

    def scale(self, rs: Obj, owned: list[Obj]) -> list[Obj]:
        wanted = int(rs["spec"].get("replicas", 1))
        meta = rs["metadata"]
        for _ in range(wanted - len(owned)):
            pod = self.api.create(path("v1", "pods", meta["namespace"]), new_pod(rs))
            owned.append(pod)
            events.record(self.api, "ReplicaSet", rs, "Normal", "SuccessfulCreate",
                          f"Created pod: {pod['metadata']['name']}", "replicaset-controller")
            log.info(f"ReplicaSet {meta['namespace']}/{meta['name']} created pod {pod['metadata']['name']}")
        if len(owned) > wanted:
            extra = sorted(owned, key=removal_order)[:len(owned) - wanted]
            for pod in extra:
                self.api.delete(object_path("v1", "pods", pod))
                events.record(self.api, "ReplicaSet", rs, "Normal", "SuccessfulDelete",
                              f"Deleted pod: {pod['metadata']['name']}", "replicaset-controller")
            owned = [pod for pod in owned if pod not in extra]
        return owned
