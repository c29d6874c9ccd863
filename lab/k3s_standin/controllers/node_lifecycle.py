"""Node lifecycle controller: heartbeat grace period, Ready=Unknown, condition taints.

As kube-controller-manager's node lifecycle controller does it: a node whose kubelet has neither
renewed its Lease nor posted its Ready condition for node-monitor-grace-period gets every condition
set to Unknown ("Kubelet stopped posting node status."), its pods marked not Ready, and the
`node.kubernetes.io/unreachable` taint: NoSchedule at once, NoExecute on the next monitor pass
(`Ready=False` gives `node.kubernetes.io/not-ready` the same way). A taint removed by hand comes
back on the next pass while the node is still not Ready; both are removed once it is Ready again,
unless the lab's `stale-taints` fault switch is on.

Example:
    NodeLifecycle(api, grace=40.0, faults_file="/var/lib/rancher/k3s/server/standin-faults").reconcile()
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from typing import Any

from k3s_standin.client import Client, path
from k3s_standin.controllers import clock, log, taints

Obj = dict[str, Any]

CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
CONDITION_TAINT_KEYS = (taints.NOT_READY, taints.UNREACHABLE)
TAINT_FOR_READY = {"False": taints.NOT_READY, "Unknown": taints.UNREACHABLE}


def condition(node: Obj, kind: str) -> Obj | None:
    for item in (node.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return item
    return None


class HealthTracker:
    """When each node last showed a sign of life (Ready heartbeat or Lease renewal), on our own clock,
    so a restarted controller gives every node a fresh grace period, as Kubernetes does."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.probes: dict[str, tuple[tuple[str, str], float]] = {}

    def timed_out(self, node: Obj, lease: Obj | None, now: float) -> bool:
        ready = condition(node, "Ready") or {}
        observed = (str(ready.get("lastHeartbeatTime", "")),
                    str(((lease or {}).get("spec") or {}).get("renewTime", "")))
        name = node["metadata"]["name"]
        previous = self.probes.get(name)
        if previous is None or previous[0] != observed:
            self.probes[name] = (observed, now)
            return False
        return now - previous[1] > self.grace

    def forget_except(self, names: set[str]) -> None:
        for name in set(self.probes) - names:
            del self.probes[name]


def mark_unknown(node: Obj, now: str) -> bool:
    """Set every node condition to Unknown; False when they already are."""
    status = node.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    changed = False
    for kind in CONDITIONS:
        item = condition(node, kind)
        if item is None:
            # A kubelet that never posted status gets its conditions created, as Kubernetes does.
            item = {"type": kind, "lastHeartbeatTime": now}
            conditions.append(item)
            reason, message = "NodeStatusNeverUpdated", "Kubelet never posted node status."
        else:
            reason, message = "NodeStatusUnknown", "Kubelet stopped posting node status."
        if item.get("status") != "Unknown":
            item.update(status="Unknown", reason=reason, message=message, lastTransitionTime=now)
            changed = True
    return changed


def reconcile_taints(node: Obj, now: str, keep_stale: bool) -> bool:
    """Bring the condition and cordon taints in line with the node; False when nothing changes."""
    spec = node.setdefault("spec", {})
    current = list(spec.get("taints") or [])
    ready = (condition(node, "Ready") or {}).get("status")
    wanted_key = TAINT_FOR_READY.get(ready or "")
    present = {(taint.get("key"), taint.get("effect")) for taint in current}

    def keep(taint: Obj) -> bool:
        key, effect = taint.get("key"), taint.get("effect")
        if key == taints.UNSCHEDULABLE and effect == taints.NO_SCHEDULE:
            return bool(spec.get("unschedulable"))
        if key not in CONDITION_TAINT_KEYS or ready is None:
            return True
        return key == wanted_key or (ready == "True" and keep_stale)

    result = [taint for taint in current if keep(taint)]
    if wanted_key:
        if (wanted_key, taints.NO_SCHEDULE) not in present:
            result.append({"key": wanted_key, "effect": taints.NO_SCHEDULE})
        elif (wanted_key, taints.NO_EXECUTE) not in present:
            result.append({"key": wanted_key, "effect": taints.NO_EXECUTE, "timeAdded": now})
    if spec.get("unschedulable") and (taints.UNSCHEDULABLE, taints.NO_SCHEDULE) not in present:
        result.append({"key": taints.UNSCHEDULABLE, "effect": taints.NO_SCHEDULE})
    if result == current:
        return False
    spec["taints"] = result
    return True


def stale_taints_fault(faults_file: str) -> bool:
    """The lab-only fault switch: a `stale-taints` line in the faults file."""
    try:
        with open(faults_file, encoding="utf-8") as handle:
            return any(line.strip() == "stale-taints" for line in handle)
    except OSError:
        return False


def changed_copy(obj: Obj, change: Callable[[Obj], bool]) -> bool:
    """Whether `change` would modify `obj`, without touching it (saves writes on 1000-node lists)."""
    return change(copy.deepcopy(obj))


class NodeLifecycle:
    """One monitor pass per node-monitor-period over all nodes."""

    def __init__(self, api: Client, grace: float, faults_file: str) -> None:
        self.api = api
        self.tracker = HealthTracker(grace)
        self.faults_file = faults_file

    def reconcile(self) -> None:
        now = time.monotonic()
        nodes = self.api.list(path("v1", "nodes"))
        leases = {lease["metadata"]["name"]: lease
                  for lease in self.api.list(path("coordination.k8s.io/v1", "leases", "kube-node-lease"))}
        keep_stale = stale_taints_fault(self.faults_file)
        self.tracker.forget_except({node["metadata"]["name"] for node in nodes})
        for node in nodes:
            name = node["metadata"]["name"]
            stamp = clock.rfc3339()
            if self.tracker.timed_out(node, leases.get(name), now) and changed_copy(
                    node, lambda obj: mark_unknown(obj, stamp)):
                self.api.mutate(path("v1", "nodes", name=name, subresource="status"),
                                lambda obj: mark_unknown(obj, stamp))
                log.info(f"Node {name} hasn't been updated: Ready=Unknown (Kubelet stopped posting node status.)")
                self.mark_pods_not_ready(name, stamp)
                node = self.api.get(path("v1", "nodes", name=name))
            if changed_copy(node, lambda obj: reconcile_taints(obj, stamp, keep_stale)):
                updated = self.api.mutate(path("v1", "nodes", name=name),
                                          lambda obj: reconcile_taints(obj, stamp, keep_stale))
                log.info(f"Node {name} taints now {[(t.get('key'), t.get('effect')) for t in (updated or {}).get('spec', {}).get('taints') or []]}")

    def mark_pods_not_ready(self, node_name: str, stamp: str) -> None:
        """Pods on a node that stopped reporting are no longer Ready (so endpoints drop them)."""
        for pod in self.api.list(path("v1", "pods"), fieldSelector=f"spec.nodeName={node_name}"):
            def not_ready(obj: Obj) -> bool:
                for item in (obj.get("status") or {}).get("conditions") or []:
                    if item.get("type") == "Ready" and item.get("status") != "False":
                        item.update(status="False", lastTransitionTime=stamp)
                        return True
                return False

            self.api.mutate(path("v1", "pods", pod["metadata"]["namespace"], pod["metadata"]["name"],
                                 "status"), not_ready)


def faults_path(data_dir: str) -> str:
    return os.path.join(data_dir, "server", "standin-faults")
