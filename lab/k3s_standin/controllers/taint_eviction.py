"""Taint-based eviction: pods on a node with NoExecute taints they do not tolerate are deleted at
once; pods tolerating them for `tolerationSeconds` are deleted that long after the taint was added
(DefaultTolerationSeconds gives every pod 300 s for not-ready/unreachable). A Normal
`TaintManagerEviction` event is recorded on each evicted pod, as the taint eviction controller does.

Example:
    TaintEviction(api).reconcile()
"""

from __future__ import annotations

import time
from typing import Any

from k3s_standin.client import Client, path
from k3s_standin.controllers import clock, events, log, scheduling, taints

Obj = dict[str, Any]
FOREVER = float("inf")


def toleration_seconds(taint: Obj, tolerations: list[Obj]) -> float | None:
    """How long the pod may stay under this taint: None when not tolerated at all."""
    matching = [toleration for toleration in tolerations if taints.tolerates(toleration, taint)]
    if not matching:
        return None
    limits = [float(t["tolerationSeconds"]) if t.get("tolerationSeconds") is not None else FOREVER
              for t in matching]
    return max(0.0, min(limits))


def eviction_time(pod: Obj, node_taints: list[Obj], added_at: dict[tuple[str, str], float],
                  now: float) -> float | None:
    """Epoch seconds when the pod must be evicted, None when never. `added_at` maps
    (key, effect) to when the taint appeared, for taints without `timeAdded`."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    due = FOREVER
    for taint in node_taints:
        if taint.get("effect") != taints.NO_EXECUTE:
            continue
        seconds = toleration_seconds(taint, tolerations)
        if seconds is None:
            return now
        stamp = taint.get("timeAdded")
        start = clock.parse(stamp) if stamp else added_at.get((taint.get("key", ""), "NoExecute"), now)
        due = min(due, start + seconds)
    return None if due == FOREVER else due


class TaintEviction:
    def __init__(self, api: Client) -> None:
        self.api = api
        self.first_seen: dict[str, dict[tuple[str, str], float]] = {}

    def reconcile(self) -> None:
        now = time.time()
        tainted = {}
        for node in self.api.list(path("v1", "nodes")):
            node_taints = [t for t in (node.get("spec") or {}).get("taints") or []
                           if t.get("effect") == taints.NO_EXECUTE]
            name = node["metadata"]["name"]
            seen = self.first_seen.setdefault(name, {})
            for taint in node_taints:
                seen.setdefault((taint.get("key", ""), "NoExecute"), now)
            for key in set(seen) - {(t.get("key", ""), "NoExecute") for t in node_taints}:
                del seen[key]
            if node_taints:
                tainted[name] = node_taints
        if not tainted:
            return
        for pod in self.api.list(path("v1", "pods")):
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name not in tainted or not scheduling.active(pod):
                continue
            due = eviction_time(pod, tainted[node_name], self.first_seen[node_name], now)
            if due is not None and due <= now:
                self.evict(pod)

    def evict(self, pod: Obj) -> None:
        meta = pod["metadata"]
        events.record(self.api, "Pod", pod, "Normal", "TaintManagerEviction",
                      f"Marking for deletion Pod {meta['namespace']}/{meta['name']}", "taint-eviction-controller")
        self.api.delete(path("v1", "pods", meta["namespace"], meta["name"]))
        log.info(f"Evicted pod {meta['namespace']}/{meta['name']} from node {pod['spec']['nodeName']}")
