"""Scheduler: binds Pending pods to nodes that pass kube-scheduler's filters, else records why.

Unschedulable pods get `PodScheduled=False`, reason `Unschedulable` and the real FitError message,
plus a `FailedScheduling` Warning event whenever that message changes (kubernetes/kubernetes
pkg/scheduler/schedule_one.go `handleSchedulingFailure`, pkg/scheduler/framework/types.go `FitError`).

Example:
    Scheduler(api).reconcile()
"""

from __future__ import annotations

from typing import Any

from k3s_standin.client import Client, path
from k3s_standin.controllers import clock, events, log, scheduling

Obj = dict[str, Any]
NAME = "default-scheduler"


def unschedulable(pod: Obj, message: str, stamp: str) -> bool:
    """Set the PodScheduled=False condition; False when it already says this."""
    status = pod.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    for item in conditions:
        if item.get("type") == "PodScheduled":
            if item.get("status") == "False" and item.get("message") == message:
                return False
            item.update(status="False", reason="Unschedulable", message=message, lastTransitionTime=stamp)
            return True
    conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                       "message": message, "lastProbeTime": None, "lastTransitionTime": stamp})
    return True


def waiting(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName") and scheduling.active(pod)
            and spec.get("schedulerName", NAME) == NAME)


class Scheduler:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        pods = self.api.list(path("v1", "pods"))
        pending = [pod for pod in pods if waiting(pod)]
        if not pending:
            return
        nodes = self.api.list(path("v1", "nodes"))
        # what the default spreading selects by (kube-scheduler's informers on Services and ReplicaSets)
        services = self.api.list(path("v1", "services"))
        replicasets = self.api.list(path("apps/v1", "replicasets"))
        for pod in sorted(pending, key=lambda p: p["metadata"].get("creationTimestamp", "")):
            node_name, message = scheduling.pick(pod, nodes, pods, services, replicasets)
            if node_name:
                self.bind(pod, node_name)
                pod.setdefault("spec", {})["nodeName"] = node_name
            else:
                self.fail(pod, message)

    def bind(self, pod: Obj, node_name: str) -> None:
        meta = pod["metadata"]
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta.get("uid")},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        self.api.create(path("v1", "pods", meta["namespace"], meta["name"], "binding"), binding)
        events.record(self.api, "Pod", pod, "Normal", "Scheduled",
                      f"Successfully assigned {meta['namespace']}/{meta['name']} to {node_name}", NAME)

    def fail(self, pod: Obj, message: str) -> None:
        meta = pod["metadata"]
        stamp = clock.rfc3339()
        url = path("v1", "pods", meta["namespace"], meta["name"], "status")
        if not unschedulable(pod, message, stamp):
            return
        self.api.mutate(url, lambda obj: unschedulable(obj, message, stamp))
        events.record(self.api, "Pod", pod, "Warning", "FailedScheduling", message, NAME)
        log.info(f"Unable to schedule pod {meta['namespace']}/{meta['name']}: {message}")
