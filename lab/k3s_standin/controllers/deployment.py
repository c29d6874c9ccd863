"""Deployment controller: one ReplicaSet `<deploy>-<pod-template-hash>` per template, older ones
scaled to zero, and the Available/Progressing conditions computed as Kubernetes does.

Example:
    Deployments(api).reconcile()
"""

from __future__ import annotations

import copy
from typing import Any

from k3s_standin.client import Client, object_path, path
from k3s_standin.controllers import clock, conditions, events, log, names

Obj = dict[str, Any]
HASH_LABEL = "pod-template-hash"


def max_unavailable(deployment: Obj) -> int:
    """Rolling update's maxUnavailable (default 25%, rounded down), 0 for Recreate."""
    strategy = deployment["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    replicas = int(deployment["spec"].get("replicas", 1))
    if isinstance(value, str) and value.endswith("%"):
        return replicas * int(value[:-1]) // 100
    return int(value)


def replica_set_for(deployment: Obj, template_hash: str) -> Obj:
    template = copy.deepcopy(deployment["spec"]["template"])
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = template_hash
    selector = copy.deepcopy(deployment["spec"].get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH_LABEL] = template_hash
    meta = deployment["metadata"]
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{meta['name']}-{template_hash}", "namespace": meta["namespace"],
                         "labels": template["metadata"]["labels"],
                         "annotations": {"deployment.kubernetes.io/desired-replicas":
                                         str(deployment["spec"].get("replicas", 1))},
                         "ownerReferences": [names.owner_reference("apps/v1", "Deployment", deployment)]},
            "spec": {"replicas": int(deployment["spec"].get("replicas", 1)), "selector": selector,
                     "template": template}}


def deployment_status(deployment: Obj, current: Obj, replica_sets: list[Obj], now: str) -> Obj:
    """The status block: counts summed over owned ReplicaSets, conditions from availability."""
    status = copy.deepcopy(deployment.get("status") or {})
    wanted = int(deployment["spec"].get("replicas", 1))
    total = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in replica_sets)
    ready = sum(int((rs.get("status") or {}).get("readyReplicas", 0)) for rs in replica_sets)
    available = sum(int((rs.get("status") or {}).get("availableReplicas", 0)) for rs in replica_sets)
    updated = int((current.get("status") or {}).get("replicas", 0))
    status.update(observedGeneration=deployment["metadata"].get("generation", 1), replicas=total,
                  updatedReplicas=updated, readyReplicas=ready, availableReplicas=available,
                  unavailableReplicas=max(0, wanted - available))
    if available >= wanted - max_unavailable(deployment):
        conditions.set_condition(status, "Available", "True", "MinimumReplicasAvailable",
                                 "Deployment has minimum availability.", now)
    else:
        conditions.set_condition(status, "Available", "False", "MinimumReplicasUnavailable",
                                 "Deployment does not have minimum availability.", now)
    rs_name = current["metadata"]["name"]
    if updated == wanted and available >= wanted:
        conditions.set_condition(status, "Progressing", "True", "NewReplicaSetAvailable",
                                 f'ReplicaSet "{rs_name}" has successfully progressed.', now)
    else:
        conditions.set_condition(status, "Progressing", "True", "ReplicaSetUpdated",
                                 f'ReplicaSet "{rs_name}" is progressing.', now)
    return status


class Deployments:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        all_sets = self.api.list(path("apps/v1", "replicasets"))
        for deployment in self.api.list(path("apps/v1", "deployments")):
            owned = [rs for rs in all_sets if names.controlled_by(rs, deployment)]
            self.sync(deployment, owned)

    def sync(self, deployment: Obj, owned: list[Obj]) -> None:
        meta = deployment["metadata"]
        wanted = int(deployment["spec"].get("replicas", 1))
        template_hash = names.template_hash(deployment["spec"]["template"])
        name = f"{meta['name']}-{template_hash}"
        current = next((rs for rs in owned if rs["metadata"]["name"] == name), None)
        if current is None:
            current = self.api.create(path("apps/v1", "replicasets", meta["namespace"]),
                                      replica_set_for(deployment, template_hash))
            owned.append(current)
            events.record(self.api, "Deployment", deployment, "Normal", "ScalingReplicaSet",
                          f"Scaled up replica set {name} from 0 to {wanted}", "deployment-controller")
            log.info(f"Deployment {meta['namespace']}/{meta['name']} created ReplicaSet {name}")
        for rs in owned:
            target = wanted if rs is current else 0
            if int(rs["spec"].get("replicas", 1)) != target:
                def scale(obj: Obj, target: int = target) -> bool:
                    obj["spec"]["replicas"] = target
                    return True

                self.api.mutate(object_path("apps/v1", "replicasets", rs), scale)
        status = deployment_status(deployment, current, owned, clock.rfc3339())
        if status != deployment.get("status"):
            def write(obj: Obj) -> bool:
                obj["status"] = status
                return True

            self.api.mutate(object_path("apps/v1", "deployments", deployment, "status"), write)
