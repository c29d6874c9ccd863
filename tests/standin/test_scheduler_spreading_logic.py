"""The stand-in scheduler's InterPodAffinity and PodTopologySpread, as pure logic: what kube-scheduler's
plugins filter and score (controllers/pod_affinity.py, controllers/topology_spread.py)."""

from __future__ import annotations

from k3s_standin.controllers import pod_affinity, scheduling, topology_spread

APP = {"app": "rancher"}
ANTI_TERM = {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["rancher"]}]},
             "topologyKey": "kubernetes.io/hostname"}


def node(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}}, "spec": {},
            "status": {}}


def pod(name: str, node_name: str = "", labels: dict | None = None, affinity: dict | None = None,
        owner: str = "", spread: list | None = None, namespace: str = "cattle-system",
        deleting: bool = False) -> dict:
    meta: dict = {"name": name, "namespace": namespace, "uid": name, "labels": dict(labels or {})}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner,
                                    "uid": owner, "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    spec: dict = {"containers": [{"name": "c", "image": "x"}]}
    if node_name:
        spec["nodeName"] = node_name
    if affinity:
        spec["affinity"] = affinity
    if spread:
        spec["topologySpreadConstraints"] = spread
    return {"metadata": meta, "spec": spec, "status": {"phase": "Running" if node_name else "Pending"}}


def replicaset(name: str, labels: dict) -> dict:
    return {"metadata": {"name": name, "namespace": "cattle-system"},
            "spec": {"selector": {"matchLabels": dict(labels)}}}


def others(node_name: str, count: int) -> list[dict]:
    """Unrelated pods that make a node the busier one (the stand-in's last tie-break)."""
    return [pod(f"other-{node_name}-{i}", node_name, {"app": "other"}, namespace="default") for i in range(count)]


def test_required_anti_affinity_filters_nodes_with_a_matching_pod() -> None:
    affinity = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [ANTI_TERM]}}
    placed = [pod("r1", "a", APP), pod("r2", "b", APP)]
    chosen, message = scheduling.pick(pod("r3", labels=APP, affinity=affinity), [node("a"), node("b")], placed)
    assert chosen is None
    assert message == ("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption: 0/2 "
                       "nodes are available: 2 No preemption victims found for incoming pod.")
    assert scheduling.pick(pod("r3", labels=APP, affinity=affinity), [node("a"), node("b"), node("c")],
                           placed) == ("c", "")


def test_existing_pods_required_anti_affinity_keeps_matching_pods_away() -> None:
    affinity = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [ANTI_TERM]}}
    placed = [pod("r1", "a", APP, affinity=affinity)]
    chosen, message = scheduling.pick(pod("plain", labels=APP), [node("a")], placed)
    assert chosen is None and "1 node(s) didn't satisfy existing pods anti-affinity rules" in message


def test_anti_affinity_terms_select_within_their_namespace() -> None:
    affinity = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [ANTI_TERM]}}
    elsewhere = [pod("r1", "a", APP, namespace="default")]
    assert scheduling.pick(pod("r2", labels=APP, affinity=affinity), [node("a")], elsewhere) == ("a", "")


def test_preferred_anti_affinity_outweighs_the_busier_node() -> None:
    affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": ANTI_TERM}]}}
    placed = [pod("r1", "a", APP), *others("b", 3)]
    assert scheduling.pick(pod("r2", labels=APP, affinity=affinity), [node("a"), node("b")], placed) == ("b", "")
    # only a soft preference: with the other node cordoned it shares the node
    cordoned = node("b")
    cordoned["spec"]["unschedulable"] = True
    assert scheduling.pick(pod("r2", labels=APP, affinity=affinity), [node("a"), cordoned], placed) == ("a", "")


def test_preferred_anti_affinity_scores_are_normalized() -> None:
    affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": ANTI_TERM}]}}
    a, b = node("a"), node("b")
    scores = pod_affinity.scores(pod("r2", labels=APP, affinity=affinity), [a, b], [(pod("r1", "a", APP), a)])
    assert scores == {"a": 0, "b": 100}
    assert pod_affinity.scores(pod("r2", labels=APP, affinity=affinity), [a, b], []) == {"a": 0, "b": 0}


def test_default_spreading_puts_a_replicaset_on_another_node() -> None:
    rs = replicaset("web-abc", {"app": "web", "pod-template-hash": "abc"})
    labels = {"app": "web", "pod-template-hash": "abc"}
    placed = [pod("w1", "a", labels, owner="web-abc"), *others("b", 3)]
    chosen = scheduling.pick(pod("w2", labels=labels, owner="web-abc"), [node("a"), node("b")], placed, [], [rs])
    assert chosen == ("b", "")
    # without its ReplicaSet or a Service, nothing selects the pods: fewest pods wins
    assert scheduling.pick(pod("w2", labels=labels, owner="web-abc"), [node("a"), node("b")], placed) == ("a", "")


def test_default_selector_merges_services_and_the_replicaset() -> None:
    service = {"metadata": {"name": "web", "namespace": "cattle-system"}, "spec": {"selector": {"tier": "front"}}}
    other = {"metadata": {"name": "db", "namespace": "cattle-system"}, "spec": {"selector": {"tier": "back"}}}
    subject = pod("w", labels={"app": "web", "tier": "front"}, owner="web-abc")
    selector = topology_spread.default_selector(subject, [service, other], [replicaset("web-abc", {"app": "web"})])
    assert selector == {"matchLabels": {"tier": "front", "app": "web"}, "matchExpressions": []}
    assert topology_spread.default_selector(pod("bare"), [service], []) is None


def test_system_default_spreading_scores() -> None:
    labels = {"app": "web"}
    subject = pod("w", labels=labels, owner="web-abc")
    placed = [pod("w1", "a", labels), pod("w2", "a", labels), pod("gone", "b", labels, deleting=True)]
    spread = topology_spread.Spread.of(subject, placed, [], [replicaset("web-abc", labels)])
    # a: 2 * ln(4) + 2 = 4.77 -> 5, b: 0 + 2 = 2 (the terminating pod is not counted)
    assert spread.scores([node("a"), node("b")]) == {"a": 40, "b": 100}


def test_do_not_schedule_spread_constraint_filters() -> None:
    constraint = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
                   "labelSelector": {"matchLabels": {"app": "web"}}}]
    placed = [pod("w1", "a", {"app": "web"})]
    subject = pod("w2", labels={"app": "web"}, spread=constraint)
    assert scheduling.pick(subject, [node("a"), node("b")], placed + others("b", 3)) == ("b", "")
    cordoned = node("b")
    cordoned["spec"]["unschedulable"] = True
    zoned = [{**constraint[0], "topologyKey": "topology.kubernetes.io/zone"}]
    chosen, message = scheduling.pick(pod("w3", labels={"app": "web"}, spread=zoned), [node("a"), cordoned], placed)
    assert chosen is None
    assert ("1 node(s) didn't match pod topology spread constraints (missing required label), "
            "1 node(s) were unschedulable") in message
    assert "2 Preemption is not helpful for scheduling" in message
