"""kube-scheduler's PodTopologySpread plugin (kubernetes/kubernetes
pkg/scheduler/framework/plugins/podtopologyspread: plugin.go, filtering.go, scoring.go; the default
selector of pkg/scheduler/framework/plugins/helper/spread.go `DefaultSelector`).

A pod without `topologySpreadConstraints` gets the system defaults (`systemDefaultConstraints`:
ScheduleAnyway, maxSkew 3 on kubernetes.io/hostname and 5 on topology.kubernetes.io/zone) over the
pods its Services and owning ReplicaSet select; without any, it is not spread. Filter: each
DoNotSchedule constraint fails a node lacking the key ("... (missing required label)",
unresolvable) or whose domain would exceed the skew over the emptiest domain. Score: per node the
sum of `cnt * log(domains + 2) + maxSkew - 1` over ScheduleAnyway constraints whose key it has,
normalized `100 * (max + min - s) / max` (100 for all when max is 0; nodes lacking a key of
explicit constraints 0). Terminating pods are not counted.

Example:
    spread = Spread.of(pod, pods, services, replicasets)
    spread.reason(node, nodes)   # None or "node(s) didn't match pod topology spread constraints"
    spread.scores(fitting)       # {"a": 100, "b": 0}
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from k3s_standin.apiserver.selectors import matches_selector

Obj = dict[str, Any]
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
SYSTEM_DEFAULTS = ((HOSTNAME, 3), (ZONE, 5))
NOT_MATCH = "node(s) didn't match pod topology spread constraints"
MISSING_LABEL = f"{NOT_MATCH} (missing required label)"
MAX_NODE_SCORE = 100


@dataclass(frozen=True)
class Constraint:
    key: str
    max_skew: int
    selector: Obj
    hard: bool


def labels_of(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


def default_selector(pod: Obj, services: list[Obj], replicasets: list[Obj]) -> Obj | None:
    """`DefaultSelector`: the selectors of the pod's namespace's Services that select it, merged, and
    its controlling ReplicaSet's selector; None when that selects nothing in particular."""
    namespace, labels = pod["metadata"].get("namespace"), labels_of(pod)
    match_labels: dict[str, str] = {}
    for service in services:
        selector = (service.get("spec") or {}).get("selector") or {}
        if (service["metadata"].get("namespace") == namespace and selector
                and all(labels.get(key) == value for key, value in selector.items())):
            match_labels.update(selector)
    expressions: list[Obj] = []
    owner = next((ref for ref in pod["metadata"].get("ownerReferences") or [] if ref.get("controller")), None)
    if owner is not None and owner.get("kind") == "ReplicaSet":
        for rs in replicasets:
            if (rs["metadata"].get("namespace"), rs["metadata"]["name"]) == (namespace, owner.get("name")):
                selector = (rs.get("spec") or {}).get("selector") or {}
                match_labels.update(selector.get("matchLabels") or {})
                expressions += selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return None
    return {"matchLabels": match_labels, "matchExpressions": expressions}


def explicit(pod: Obj) -> list[Constraint]:
    """The pod's own constraints; `matchLabelKeys` add the pod's values of those keys to the selector."""
    constraints = []
    for item in (pod.get("spec") or {}).get("topologySpreadConstraints") or []:
        selector = dict(item.get("labelSelector") or {})
        keys = [key for key in item.get("matchLabelKeys") or [] if key in labels_of(pod)]
        if keys:
            selector["matchExpressions"] = [*(selector.get("matchExpressions") or []),
                                            *({"key": key, "operator": "In", "values": [labels_of(pod)[key]]}
                                              for key in keys)]
        constraints.append(Constraint(item.get("topologyKey", ""), int(item.get("maxSkew", 1)), selector,
                                      item.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"))
    return constraints


def on_nodes(pod: Obj, constraint: Constraint, pods: list[Obj]) -> Counter[str]:
    """`countPodsMatchSelector` per node: the pod's namespace's pods the selector matches, terminating ones left out."""
    namespace = pod["metadata"].get("namespace")
    return Counter((other.get("spec") or {}).get("nodeName") for other in pods
                   if (other.get("spec") or {}).get("nodeName")
                   and not other["metadata"].get("deletionTimestamp")
                   and other["metadata"].get("namespace") == namespace
                   and matches_selector(constraint.selector, labels_of(other)))


@dataclass(frozen=True)
class Spread:
    pod: Obj
    constraints: tuple[Constraint, ...]
    system_defaulted: bool
    counts: tuple[Counter[str], ...]

    @classmethod
    def of(cls, pod: Obj, pods: list[Obj], services: list[Obj], replicasets: list[Obj]) -> Spread:
        own = explicit(pod)
        selector = None if own else default_selector(pod, services, replicasets)
        constraints = own or ([] if selector is None else [Constraint(key, skew, selector, False)
                                                          for key, skew in SYSTEM_DEFAULTS])
        return cls(pod, tuple(constraints), not own, tuple(on_nodes(pod, c, pods) for c in constraints))

    def domain_counts(self, index: int, nodes: list[Obj]) -> dict[str, int]:
        key, counts = self.constraints[index].key, self.counts[index]
        result: dict[str, int] = {}
        for node in nodes:
            value = labels_of(node).get(key)
            if value is not None:
                result[value] = result.get(value, 0) + counts[node["metadata"]["name"]]
        return result

    def has_keys(self, node: Obj, hard: bool) -> bool:
        return all(c.key in labels_of(node) for c in self.constraints if c.hard == hard)

    def reason(self, node: Obj, eligible: list[Obj]) -> str | None:
        """The Filter over DoNotSchedule constraints; `eligible`: the nodes the pod's node affinity allows."""
        for index, constraint in enumerate(self.constraints):
            if not constraint.hard:
                continue
            value = labels_of(node).get(constraint.key)
            if value is None:
                return MISSING_LABEL
            domains = self.domain_counts(index, [n for n in eligible if self.has_keys(n, hard=True)])
            own = 1 if matches_selector(constraint.selector, labels_of(self.pod)) else 0
            if domains.get(value, 0) + own - min(domains.values(), default=0) > constraint.max_skew:
                return NOT_MATCH
        return None

    def scores(self, fitting: list[Obj]) -> dict[str, int]:
        """Normalized scores (0..100) of the nodes that passed the filters."""
        names = [node["metadata"]["name"] for node in fitting]
        soft = [index for index, c in enumerate(self.constraints) if not c.hard]
        if not soft:
            return {name: 0 for name in names}
        ignored = set() if self.system_defaulted else {
            node["metadata"]["name"] for node in fitting if not self.has_keys(node, hard=False)}
        scored = [node for node in fitting if node["metadata"]["name"] not in ignored]
        raw = {node["metadata"]["name"]: 0.0 for node in scored}
        for index in soft:
            constraint = self.constraints[index]
            domains = self.domain_counts(index, scored)
            # hostname domains are the scored nodes; other keys count every value, a missing one as ""
            size = (len(scored) if constraint.key == HOSTNAME
                    else len({labels_of(node).get(constraint.key, "") for node in scored}))
            for node in scored:
                value = labels_of(node).get(constraint.key)
                if value is not None:
                    raw[node["metadata"]["name"]] += domains[value] * math.log(size + 2) + constraint.max_skew - 1
        rounded = {name: round(score) for name, score in raw.items()}
        high, low = max(rounded.values(), default=0), min(rounded.values(), default=0)
        return {name: 0 if name in ignored else MAX_NODE_SCORE if high == 0
                else MAX_NODE_SCORE * (high + low - rounded[name]) // high for name in names}
