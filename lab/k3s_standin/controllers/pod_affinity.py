"""kube-scheduler's InterPodAffinity plugin for pod anti-affinity and preferred affinity
(kubernetes/kubernetes pkg/scheduler/framework/plugins/interpodaffinity: filtering.go, scoring.go).

Filter: a node fails when a pod already in one of its topology domains (same `topologyKey` label
value) matches a required anti-affinity term of the incoming pod ("node(s) didn't match pod
anti-affinity rules"), or when the incoming pod matches a required anti-affinity term of a pod there
("node(s) didn't satisfy existing pods anti-affinity rules"); both are `Unschedulable`, so the
FitError's preemption summary says no victims were found. Score: per topology domain, the weights of
the incoming pod's preferred affinity terms (+) and anti-affinity terms (-) that existing pods
match, plus the existing pods' preferred terms that the incoming pod matches; a node's sum over its
domains, normalized to 0..100 between the lowest and highest node (all 0 when they are equal).
A term's namespaces are its `namespaces`, else its pod's own; an empty `namespaceSelector` means all
namespaces; a missing `labelSelector` matches no pod. Required pod *affinity* is not modelled (no
chart the stand-in renders asks for it).

Example:
    placed = [(rancher_pod, node_a)]
    anti_affinity_reason(new_rancher_pod, node_a, placed)   # "node(s) didn't match pod anti-affinity rules"
    scores(new_rancher_pod, [node_a, node_b], placed)       # {"a": 0, "b": 100}
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from k3s_standin.apiserver.selectors import matches_selector

Obj = dict[str, Any]
Placed = list[tuple[Obj, Obj]]
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
MAX_NODE_SCORE = 100


def rules(pod: Obj, kind: str, strength: str) -> list[Obj]:
    """`podAffinity`/`podAntiAffinity` terms, `required` or `preferred` (these with weight and podAffinityTerm)."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return list(affinity.get(f"{strength}DuringSchedulingIgnoredDuringExecution") or [])


def term_selects(term: Obj, owner: Obj, other: Obj) -> bool:
    """Whether `term`, of pod `owner`, selects pod `other` (namespace and label selector)."""
    namespaces = term.get("namespaces") or []
    namespace = other["metadata"].get("namespace")
    # an empty namespaceSelector selects every namespace
    if term.get("namespaceSelector") != {} and namespace not in (namespaces or [owner["metadata"].get("namespace")]):
        return False
    selector = term.get("labelSelector")
    return selector is not None and matches_selector(selector, other["metadata"].get("labels") or {})


def same_domain(key: str, node: Obj, other: Obj) -> bool:
    value = (node["metadata"].get("labels") or {}).get(key)
    return value is not None and value == (other["metadata"].get("labels") or {}).get(key)


def anti_affinity_reason(pod: Obj, node: Obj, placed: Placed) -> str | None:
    """The Filter's reason for `node`, None when it passes."""
    for term in rules(pod, "podAntiAffinity", "required"):
        if any(same_domain(term.get("topologyKey", ""), node, where) and term_selects(term, pod, other)
               for other, where in placed):
            return ANTI_AFFINITY
    for other, where in placed:
        for term in rules(other, "podAntiAffinity", "required"):
            if same_domain(term.get("topologyKey", ""), node, where) and term_selects(term, other, pod):
                return EXISTING_ANTI_AFFINITY
    return None


def domain_weights(pod: Obj, placed: Placed) -> Counter[tuple[str, str]]:
    """(topologyKey, value) -> summed weights, as `processExistingPod` accumulates them."""
    weights: Counter[tuple[str, str]] = Counter()

    def add(weighted: Obj, owner: Obj, target: Obj, where: Obj, sign: int) -> None:
        term = weighted.get("podAffinityTerm") or {}
        key = term.get("topologyKey", "")
        value = (where["metadata"].get("labels") or {}).get(key)
        if value is not None and term_selects(term, owner, target):
            weights[(key, value)] += sign * int(weighted.get("weight", 0))

    for other, where in placed:
        for kind, sign in (("podAffinity", 1), ("podAntiAffinity", -1)):
            for weighted in rules(pod, kind, "preferred"):
                add(weighted, pod, other, where, sign)
            for weighted in rules(other, kind, "preferred"):
                add(weighted, other, pod, where, sign)
    return weights


def scores(pod: Obj, nodes: list[Obj], placed: Placed) -> dict[str, int]:
    """Normalized scores (0..100) of the nodes that passed the filters."""
    weights = domain_weights(pod, placed)
    raw = {node["metadata"]["name"]: sum(weight for (key, value), weight in weights.items()
                                         if (node["metadata"].get("labels") or {}).get(key) == value)
           for node in nodes}
    low, high = min(raw.values(), default=0), max(raw.values(), default=0)
    if high == low:
        return {name: 0 for name in raw}
    return {name: int(MAX_NODE_SCORE * (score - low) / (high - low)) for name, score in raw.items()}
