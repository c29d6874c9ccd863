"""DaemonSet controller: one pod per eligible node, pinned with node affinity on `metadata.name`
and given the tolerations DaemonSets get by default, decided like `NodeShouldRunDaemonPod`:
a node with an untolerated NoSchedule taint gets no new pod; one already there keeps running
unless an untolerated NoExecute taint appears.

Example:
    DaemonSets(api).reconcile()
"""

from __future__ import annotations

import copy
from typing import Any

from k3s_standin.client import Client, object_path, path
from k3s_standin.controllers import events, log, names, replicaset, scheduling, taints

Obj = dict[str, Any]

DEFAULT_TOLERATIONS = [
    {"key": taints.NOT_READY, "operator": "Exists", "effect": taints.NO_EXECUTE},
    {"key": taints.UNREACHABLE, "operator": "Exists", "effect": taints.NO_EXECUTE},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": taints.NO_SCHEDULE},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": taints.NO_SCHEDULE},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": taints.NO_SCHEDULE},
    {"key": taints.UNSCHEDULABLE, "operator": "Exists", "effect": taints.NO_SCHEDULE},
]
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                           "effect": taints.NO_SCHEDULE}


REVISION_LABEL = "controller-revision-hash"


def revision(ds: Obj) -> str:
    return names.template_hash(ds["spec"]["template"])


def daemon_pod(ds: Obj, node_name: str) -> Obj:
    """The pod the DaemonSet runs on `node_name` (still to be bound by the scheduler)."""
    template = copy.deepcopy(ds["spec"]["template"])
    spec = template.get("spec") or {}
    tolerations = spec.setdefault("tolerations", [])
    extra = DEFAULT_TOLERATIONS + ([HOST_NETWORK_TOLERATION] if spec.get("hostNetwork") else [])
    for toleration in extra:
        if toleration not in tolerations:
            tolerations.append(dict(toleration))
    spec.setdefault("affinity", {})["nodeAffinity"] = {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}}
    meta = template.get("metadata") or {}
    labels = dict(meta.get("labels") or {}, **{REVISION_LABEL: revision(ds)})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{ds['metadata']['name']}-{names.suffix()}",
                         "namespace": ds["metadata"]["namespace"],
                         "labels": labels, "annotations": meta.get("annotations") or {},
                         "ownerReferences": [names.owner_reference("apps/v1", "DaemonSet", ds)]},
            "spec": spec}


def should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """(should run a new pod here, may an existing pod continue here)."""
    pod = daemon_pod(ds, node["metadata"]["name"])
    wanted_node = pod["spec"].get("nodeName")
    if wanted_node and wanted_node != node["metadata"]["name"]:
        return False, False
    if not scheduling.affinity_matches(pod, node):
        return False, False
    node_taints = (node.get("spec") or {}).get("taints") or []
    tolerations = pod["spec"]["tolerations"]
    if taints.first_untolerated(node_taints, tolerations) is None:
        return True, True
    return False, taints.first_untolerated(node_taints, tolerations, (taints.NO_EXECUTE,)) is None


def target_node(pod: Obj) -> str:
    """The node a daemon pod is for: bound node, else its metadata.name affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return field["values"][0]
    return ""


class DaemonSets:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        sets = self.api.list(path("apps/v1", "daemonsets"))
        if not sets:
            return
        nodes = self.api.list(path("v1", "nodes"))
        pods = self.api.list(path("v1", "pods"))
        for ds in sets:
            self.sync(ds, nodes, [pod for pod in pods if names.controlled_by(pod, ds)])

    def sync(self, ds: Obj, nodes: list[Obj], owned: list[Obj]) -> None:
        by_node: dict[str, list[Obj]] = {}
        for pod in owned:
            outdated = (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision(ds)
            if (pod.get("status") or {}).get("phase") == "Failed" or outdated:
                self.api.delete(object_path("v1", "pods", pod))
            elif scheduling.active(pod):
                by_node.setdefault(target_node(pod), []).append(pod)
        desired = scheduled = ready = misscheduled = 0
        for node in nodes:
            name = node["metadata"]["name"]
            run, keep = should_run(ds, node)
            present = by_node.pop(name, [])
            desired += run
            if run and not present:
                pod = self.api.create(path("v1", "pods", ds["metadata"]["namespace"]), daemon_pod(ds, name))
                events.record(self.api, "DaemonSet", ds, "Normal", "SuccessfulCreate",
                              f"Created pod: {pod['metadata']['name']}", "daemonset-controller")
                log.info(f"DaemonSet {ds['metadata']['name']} created pod {pod['metadata']['name']} for {name}")
            doomed = present if not keep else present[1:]
            for pod in doomed:
                self.api.delete(object_path("v1", "pods", pod))
            kept = [pod for pod in present if pod not in doomed]
            scheduled += bool(kept) and run
            misscheduled += bool(kept) and not run
            ready += sum(1 for pod in kept if replicaset.pod_ready(pod))
        for orphans in by_node.values():
            for pod in orphans:
                self.api.delete(object_path("v1", "pods", pod))
        status = {"desiredNumberScheduled": desired, "currentNumberScheduled": scheduled,
                  "numberMisscheduled": misscheduled, "numberReady": ready, "numberAvailable": ready,
                  "numberUnavailable": max(0, desired - ready), "updatedNumberScheduled": scheduled,
                  "observedGeneration": ds["metadata"].get("generation", 1)}
        if any((ds.get("status") or {}).get(key) != value for key, value in status.items()):
            def write(obj: Obj) -> bool:
                obj.setdefault("status", {}).update(status)
                return True

            self.api.mutate(object_path("apps/v1", "daemonsets", ds, "status"), write)
