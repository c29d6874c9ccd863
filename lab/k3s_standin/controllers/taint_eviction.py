"""Taint-based eviction: pods on a node with NoExecute taints they do not tolerate are deleted at
once; pods tolerating them for `tolerationSeconds` are deleted that long after this controller first
saw them under the taint (DefaultTolerationSeconds gives every pod 300 s for not-ready/unreachable).
A Normal `TaintManagerEviction` event is recorded on each evicted pod.

As kubernetes/kubernetes pkg/controller/tainteviction/taint_eviction.go `processPodOnNode` does it:
the eviction is scheduled at "now" when the controller processes the pod on the tainted node, not at
the taint's `timeAdded`, so a restarted controller starts every clock again; a scheduled eviction
keeps its time while the pod stays under NoExecute taints, and is cancelled when they go or when the
pod tolerates them forever.

Example:
    TaintEviction(api).reconcile()
"""

from __future__ import annotations

import time
from typing import Any

from k3s_standin.client import Client, path
from k3s_standin.controllers import events, log, scheduling, taints

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


def toleration_limit(pod: Obj, node_taints: list[Obj]) -> float | None:
    """Seconds the pod may stay under the node's NoExecute taints: 0 when one is not tolerated, None
    when all are tolerated forever (`GetMatchingTolerations`, `getMinTolerationTime`)."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    limit = FOREVER
    for taint in node_taints:
        if taint.get("effect") != taints.NO_EXECUTE:
            continue
        seconds = toleration_seconds(taint, tolerations)
        if seconds is None:
            return 0.0
        limit = min(limit, seconds)
    return None if limit == FOREVER else limit


class TaintEviction:
    def __init__(self, api: Client) -> None:
        self.api = api
        self.due: dict[str, float] = {}

    def reconcile(self) -> None:
        now = time.time()
        tainted = {}
        for node in self.api.list(path("v1", "nodes")):
            node_taints = [t for t in (node.get("spec") or {}).get("taints") or []
                           if t.get("effect") == taints.NO_EXECUTE]
            if node_taints:
                tainted[node["metadata"]["name"]] = node_taints
        if not tainted:
            self.due = {}
            return
        scheduled = {}
        for pod in self.api.list(path("v1", "pods")):
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name not in tainted or not scheduling.active(pod):
                continue
            limit = toleration_limit(pod, tainted[node_name])
            if limit is None:
                continue
            uid = pod["metadata"]["uid"]
            scheduled[uid] = now if limit == 0 else self.due.get(uid, now + limit)
            if scheduled[uid] <= now:
                self.evict(pod)
        self.due = scheduled

    def evict(self, pod: Obj) -> None:
        meta = pod["metadata"]
        events.record(self.api, "Pod", pod, "Normal", "TaintManagerEviction",
                      f"Marking for deletion Pod {meta['namespace']}/{meta['name']}", "taint-eviction-controller")
        self.api.delete(path("v1", "pods", meta["namespace"], meta["name"]))
        log.info(f"Evicted pod {meta['namespace']}/{meta['name']} from node {pod['spec']['nodeName']}")
