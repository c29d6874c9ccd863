"""Node lifecycle controller: heartbeat grace period, Ready=Unknown, condition taints, disruption.

As kube-controller-manager's node lifecycle controller does it (kubernetes/kubernetes
pkg/controller/nodelifecycle/node_lifecycle_controller.go): a node whose kubelet has neither renewed
its Lease nor posted its Ready condition for node-monitor-grace-period gets every condition set to
Unknown ("Kubelet stopped posting node status."), its pods marked not Ready, and the
`node.kubernetes.io/unreachable` taints (`Ready=False` gives `node.kubernetes.io/not-ready`):
NoSchedule (`doNoScheduleTaintingPass`) and NoExecute (`doNoExecuteTaintingPass`) in the same pass,
both with `timeAdded` (`SwapNodeControllerTaint`), NoExecute only as the zone's rate limiter allows
(see `disruption.py`). A node that switches between unreachable and not-ready has its NoExecute taint
swapped at once, without waiting for the limiter (`processTaintBaseEviction`).

A taint removed by hand comes back on a later pass while the node is still not Ready; both are
removed once it is Ready again (`markNodeAsReachable`), unless the lab's `stale-taints` fault switch
is on. Every node the controller sees for the first time, so every node when the controller starts,
has its NoExecute condition taints taken off (`monitorNodeHealth` calls `markNodeAsReachable` for
added nodes); they come back through the limiter if the node is still not Ready. When every zone is
fully disrupted (no node Ready) the controller takes the NoExecute condition taints off all nodes
and stops NoExecute tainting until some node is Ready again, then gives every node a fresh grace
period (`handleDisruption`).

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
from k3s_standin.controllers import clock, disruption, log, taints
from k3s_standin.controllers.disruption import FULL, Limits, TokenBucket

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

    def refresh_all(self, now: float) -> None:
        """Every node gets a fresh grace period (on leaving full disruption mode)."""
        self.probes = {name: (observed, now) for name, (observed, _) in self.probes.items()}


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


def wanted_taint_key(node: Obj) -> str | None:
    """The condition taint key the node's Ready status calls for, None when Ready (or unknown yet)."""
    return TAINT_FOR_READY.get((condition(node, "Ready") or {}).get("status") or "")


def no_execute_condition_taints(node: Obj) -> list[Obj]:
    return [taint for taint in (node.get("spec") or {}).get("taints") or []
            if taint.get("key") in CONDITION_TAINT_KEYS and taint.get("effect") == taints.NO_EXECUTE]


def remove_no_execute_condition_taints(node: Obj) -> bool:
    """`markNodeAsReachable`'s removal: the unreachable and not-ready NoExecute taints; False when none."""
    doomed = no_execute_condition_taints(node)
    if not doomed:
        return False
    node["spec"]["taints"] = [taint for taint in node["spec"]["taints"] if taint not in doomed]
    return True


def reconcile_taints(node: Obj, now: str, keep_stale: bool, no_execute: bool = True) -> bool:
    """Bring the condition and cordon taints in line with the node; False when nothing changes.
    `no_execute` says whether the NoExecute condition taint may be added now (the rate limiter's say)."""
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
            result.append({"key": wanted_key, "effect": taints.NO_SCHEDULE, "timeAdded": now})
        if no_execute and (wanted_key, taints.NO_EXECUTE) not in present:
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

    def __init__(self, api: Client, grace: float, faults_file: str, limits: Limits | None = None) -> None:
        self.api = api
        self.tracker = HealthTracker(grace)
        self.faults_file = faults_file
        self.limits = limits or Limits()
        self.known: set[str] = set()
        self.zone_states: dict[tuple[str, str], str] = {}
        self.buckets: dict[tuple[str, str], TokenBucket] = {}
        # Nodes waiting for their NoExecute taint, in arrival order (the zone's RateLimitedTimedQueue).
        self.waiting: dict[str, None] = {}

    def reconcile(self) -> None:
        now = time.monotonic()
        nodes = self.api.list(path("v1", "nodes"))
        leases = {lease["metadata"]["name"]: lease
                  for lease in self.api.list(path("coordination.k8s.io/v1", "leases", "kube-node-lease"))}
        keep_stale = stale_taints_fault(self.faults_file)
        names = {node["metadata"]["name"] for node in nodes}
        self.tracker.forget_except(names)
        self.known &= names
        nodes = [self.observe(self.update_health(node, leases.get(node["metadata"]["name"]), now), keep_stale)
                 for node in nodes]
        if self.handle_disruption(nodes, now):
            nodes = [self.make_reachable(node, keep_stale) for node in nodes]
        allowed = self.no_execute_allowed(nodes, now)
        stamp = clock.rfc3339()
        for node in nodes:
            name = node["metadata"]["name"]
            grant = name in allowed

            def change(obj: Obj) -> bool:
                return reconcile_taints(obj, stamp, keep_stale, grant)

            if changed_copy(node, change):
                updated = self.api.mutate(path("v1", "nodes", name=name), change)
                log.info(f"Node {name} taints now {[(t.get('key'), t.get('effect')) for t in (updated or {}).get('spec', {}).get('taints') or []]}")

    def update_health(self, node: Obj, lease: Obj | None, now: float) -> Obj:
        """Ready=Unknown once the grace period passed without heartbeat; returns the current node."""
        name = node["metadata"]["name"]
        stamp = clock.rfc3339()
        if not (self.tracker.timed_out(node, lease, now) and changed_copy(node, lambda obj: mark_unknown(obj, stamp))):
            return node
        self.api.mutate(path("v1", "nodes", name=name, subresource="status"), lambda obj: mark_unknown(obj, stamp))
        log.info(f"Node {name} hasn't been updated: Ready=Unknown (Kubelet stopped posting node status.)")
        self.mark_pods_not_ready(name, stamp)
        return self.api.get(path("v1", "nodes", name=name))

    def observe(self, node: Obj, keep_stale: bool) -> Obj:
        """A node seen for the first time (all of them when the controller starts) loses its NoExecute
        condition taints; the limiter adds them back if it is still not Ready."""
        name = node["metadata"]["name"]
        if name in self.known:
            return node
        self.known.add(name)
        self.bucket(disruption.zone_key(node))
        return self.make_reachable(node, keep_stale)

    def make_reachable(self, node: Obj, keep_stale: bool) -> Obj:
        """`markNodeAsReachable`: off with the NoExecute condition taints; returns the current node."""
        name = node["metadata"]["name"]
        self.waiting.pop(name, None)
        ready = (condition(node, "Ready") or {}).get("status") == "True"
        if (keep_stale and ready) or not no_execute_condition_taints(node):
            return node
        updated = self.api.mutate(path("v1", "nodes", name=name), remove_no_execute_condition_taints)
        log.info(f"Node {name}: NoExecute condition taints removed")
        return updated or node

    def handle_disruption(self, nodes: list[Obj], now: float) -> bool:
        """Zone states and limiter rates (`handleDisruption`); True when entering full disruption mode."""
        zones: dict[tuple[str, str], list[str | None]] = {}
        for node in nodes:
            if disruption.counted(node):
                zones.setdefault(disruption.zone_key(node), []).append((condition(node, "Ready") or {}).get("status"))
        states = {zone: disruption.zone_state(statuses, self.limits) for zone, statuses in zones.items()}
        self.zone_states = {zone: self.zone_states.get(zone, "Initial") for zone in states}
        all_now = bool(states) and all(state == FULL for state in states.values())
        all_before = bool(self.zone_states) and all(state == FULL for state in self.zone_states.values())
        if all_now and all_before:
            return False
        if all_now:
            log.info("Controller detected that all Nodes are not-Ready. Entering master disruption mode")
            for zone in states:
                self.bucket(zone).swap(0.0, now)
            self.zone_states = states
            return True
        if all_before:
            log.info("Controller detected that some Nodes are Ready. Exiting master disruption mode")
            self.tracker.refresh_all(now)
        for zone, state in states.items():
            self.bucket(zone).swap(self.limits.zone_rate(state, len(zones[zone])), now)
        self.zone_states = states
        return False

    def bucket(self, zone: tuple[str, str]) -> TokenBucket:
        return self.buckets.setdefault(zone, TokenBucket(self.limits.rate))

    def no_execute_allowed(self, nodes: list[Obj], now: float) -> set[str]:
        """Names of nodes that get their NoExecute condition taint in this pass: a swap between
        unreachable and not-ready at once, a new taint when the node's turn comes and its zone's
        limiter gives a token (`doNoExecuteTaintingPass`)."""
        allowed = set()
        by_name = {node["metadata"]["name"]: node for node in nodes}
        for name, node in by_name.items():
            wanted = wanted_taint_key(node)
            present = {taint.get("key") for taint in no_execute_condition_taints(node)}
            if wanted is None or wanted in present:
                self.waiting.pop(name, None)
            elif present:
                allowed.add(name)
            else:
                self.waiting.setdefault(name, None)
        for name in [name for name in self.waiting if name not in by_name]:
            del self.waiting[name]
        refused: set[tuple[str, str]] = set()
        for name in list(self.waiting):
            zone = disruption.zone_key(by_name[name])
            if zone not in refused and self.bucket(zone).try_accept(now):
                allowed.add(name)
                del self.waiting[name]
            else:
                refused.add(zone)
        return allowed

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
