"""The scheduler's filters, scoring and FitError message, as kube-scheduler's default plugins do them.

Filters run per node in kube-scheduler's order (NodeUnschedulable, TaintToleration, NodeAffinity,
NodePorts, PodTopologySpread, InterPodAffinity); the first failing one gives the node's reason. The
message is the real FitError text: reasons counted, sorted as strings, then the preemption
post-filter summary. The nodes that pass are scored by PodTopologySpread and InterPodAffinity, each
with weight 2 as in kube-scheduler's default profile (kubernetes/kubernetes
pkg/scheduler/apis/config/v1/default_plugins.go; the plugins under pkg/scheduler/framework/plugins/);
the highest wins. The other default scorers (resources, image locality) are stood in for by "fewest
pods", then the node's name, where kube-scheduler picks at random among equal scores.

Example:
    pick(pod, nodes, pods)  # ("k3s-worker-1", "") or (None, "0/3 nodes are available: ...")
    pick(pod, nodes, pods, services, replicasets)  # with the default spreading of the pod's workload
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from k3s_standin.controllers import taints

Obj = dict[str, Any]

UNSCHEDULABLE = "node(s) were unschedulable"
AFFINITY = "node(s) didn't match Pod's node affinity/selector"
PORTS = "node(s) didn't have free ports for the requested pod ports"
# Reasons preemption cannot resolve (UnschedulableAndUnresolvable in kube-scheduler).
UNRESOLVABLE_PREFIXES = (UNSCHEDULABLE, AFFINITY, "node(s) had untolerated taint",
                         "node(s) didn't match pod topology spread constraints (missing required label)")
SCORE_WEIGHTS = {"PodTopologySpread": 2, "InterPodAffinity": 2}


def expression_matches(expression: Obj, value: str | None) -> bool:
    operator = expression.get("operator")
    values = expression.get("values") or []
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and values:
        try:
            number, bound = int(value), int(values[0])
        except ValueError:
            return False
        return number > bound if operator == "Gt" else number < bound
    return False


def term_matches(term: Obj, node: Obj) -> bool:
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    expressions = term.get("matchExpressions") or []
    field_expressions = term.get("matchFields") or []
    if not expressions and not field_expressions:
        return False
    return (all(expression_matches(e, labels.get(e.get("key"))) for e in expressions)
            and all(expression_matches(e, fields.get(e.get("key"))) for e in field_expressions))


def affinity_matches(pod: Obj, node: Obj) -> bool:
    """nodeSelector AND required node affinity (terms ORed)."""
    labels = node["metadata"].get("labels") or {}
    spec = pod.get("spec") or {}
    if any(labels.get(key) != value for key, value in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not required:
        return True
    return any(term_matches(term, node) for term in required.get("nodeSelectorTerms") or [])


def host_ports(pod: Obj) -> set[tuple[str, int]]:
    ports = set()
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports.add((port.get("protocol") or "TCP", int(port["hostPort"])))
    return ports


def filter_node(pod: Obj, node: Obj, pods_on_node: list[Obj]) -> str | None:
    """None when the pod fits the node, else the first failing filter's reason."""
    spec = pod.get("spec") or {}
    tolerations = spec.get("tolerations") or []
    if (node.get("spec") or {}).get("unschedulable"):
        unschedulable_taint = {"key": taints.UNSCHEDULABLE, "effect": taints.NO_SCHEDULE}
        if not taints.tolerated(unschedulable_taint, tolerations):
            return UNSCHEDULABLE
    untolerated = taints.first_untolerated((node.get("spec") or {}).get("taints") or [], tolerations)
    if untolerated is not None:
        return f"node(s) had untolerated taint {taints.describe(untolerated)}"
    if not affinity_matches(pod, node):
        return AFFINITY
    wanted = host_ports(pod)
    if wanted and any(wanted & host_ports(other) for other in pods_on_node):
        return PORTS
    return None


def fit_error(total: int, reasons: Counter[str]) -> str:
    """kube-scheduler's FitError.Error() text including the preemption summary."""
    def histogram(counter: Counter[str]) -> str:
        return ", ".join(sorted(f"{count} {reason}" for reason, count in counter.items()))

    preemption: Counter[str] = Counter()
    for reason, count in reasons.items():
        helpless = reason.startswith(UNRESOLVABLE_PREFIXES)
        preemption["Preemption is not helpful for scheduling" if helpless
                   else "No preemption victims found for incoming pod"] += count
    return (f"0/{total} nodes are available: {histogram(reasons)}. "
            f"preemption: 0/{total} nodes are available: {histogram(preemption)}.")


def active(pod: Obj) -> bool:
    """Pods that still occupy a node (not finished, not being deleted)."""
    return ((pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and not pod["metadata"].get("deletionTimestamp"))


def assigned(pod: Obj) -> bool:
    """Pods the scheduler's cache holds on a node: bound and not finished (terminating ones too)."""
    return bool((pod.get("spec") or {}).get("nodeName")) and (pod.get("status") or {}).get("phase") not in (
        "Succeeded", "Failed")


def pick(pod: Obj, nodes: list[Obj], pods: list[Obj], services: list[Obj] | None = None,
         replicasets: list[Obj] | None = None) -> tuple[str | None, str]:
    """The node to bind to (highest score, then fewest pods, then name) or None and the FitError message."""
    # imported here: they read label selectors from the apiserver package, which imports the
    # replicaset controller, which imports this module
    from k3s_standin.controllers import pod_affinity, topology_spread

    by_node: dict[str, list[Obj]] = {}
    for other in pods:
        node_name = (other.get("spec") or {}).get("nodeName")
        if node_name and active(other):
            by_node.setdefault(node_name, []).append(other)
    node_of = {node["metadata"]["name"]: node for node in nodes}
    placed = [(other, node_of[other["spec"]["nodeName"]]) for other in pods
              if assigned(other) and other["spec"]["nodeName"] in node_of]
    spread = topology_spread.Spread.of(pod, pods, services or [], replicasets or [])
    eligible = [node for node in nodes if affinity_matches(pod, node)]
    reasons: Counter[str] = Counter()
    fitting: list[Obj] = []
    for node in nodes:
        reason = (filter_node(pod, node, by_node.get(node["metadata"]["name"], []))
                  or spread.reason(node, eligible) or pod_affinity.anti_affinity_reason(pod, node, placed))
        if reason is None:
            fitting.append(node)
        else:
            reasons[reason] += 1
    if fitting:
        spread_scores = spread.scores(fitting)
        affinity_scores = pod_affinity.scores(pod, fitting, placed)
        ranked = [(-(SCORE_WEIGHTS["PodTopologySpread"] * spread_scores[name]
                     + SCORE_WEIGHTS["InterPodAffinity"] * affinity_scores[name]),
                   len(by_node.get(name, [])), name) for name in (node["metadata"]["name"] for node in fitting)]
        return min(ranked)[2], ""
    if not nodes:
        return None, "no nodes available to schedule pods"
    return None, fit_error(len(nodes), reasons)
