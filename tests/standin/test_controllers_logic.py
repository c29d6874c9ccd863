"""Unit tests of the stand-in controllers' pure logic: taints, scheduler filters and message, node
lifecycle state machine, eviction timing, DaemonSet eligibility, endpoints."""

from __future__ import annotations

from collections import Counter

import pytest

from k3s_standin.controllers import (daemonset, durations, endpoints, names, node_lifecycle, scheduling, servicelb,
                                     taint_eviction, taints)

UNREACHABLE_NS = {"key": taints.UNREACHABLE, "effect": "NoSchedule"}
UNREACHABLE_NE = {"key": taints.UNREACHABLE, "effect": "NoExecute", "timeAdded": "2025-01-01T00:00:00Z"}


def node(name: str, taint_list: list | None = None, ready: str = "True", labels: dict | None = None,
         unschedulable: bool = False) -> dict:
    return {"metadata": {"name": name, "labels": dict(labels or {}, **{"kubernetes.io/hostname": name})},
            "spec": {"taints": list(taint_list or []), "unschedulable": unschedulable},
            "status": {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": "t0"}],
                       "addresses": [{"type": "InternalIP", "address": f"10.213.0.{len(name)}"}]}}


def pod(name: str = "p", node_name: str = "", tolerations: list | None = None, selector: dict | None = None,
        host_port: int = 0) -> dict:
    container = {"name": "c", "image": "x"}
    if host_port:
        container["ports"] = [{"containerPort": host_port, "hostPort": host_port}]
    spec = {"containers": [container], "tolerations": tolerations or []}
    if node_name:
        spec["nodeName"] = node_name
    if selector:
        spec["nodeSelector"] = selector
    return {"metadata": {"name": name, "namespace": "default", "uid": name}, "spec": spec,
            "status": {"phase": "Pending"}}


@pytest.mark.parametrize(("toleration", "expected"), [
    ({"key": taints.UNREACHABLE, "operator": "Exists"}, True),
    ({"key": taints.UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}, False),
    ({"operator": "Exists"}, True),
    ({"key": taints.UNREACHABLE, "operator": "Equal", "value": "x"}, False),
    ({"key": taints.NOT_READY, "operator": "Exists"}, False),
])
def test_toleration_matching(toleration: dict, expected: bool) -> None:
    assert taints.tolerates(toleration, UNREACHABLE_NS) is expected


def test_fit_error_is_kube_scheduler_text() -> None:
    message = scheduling.fit_error(3, Counter({"node(s) had untolerated taint {node.kubernetes.io/unreachable: }": 1,
                                               scheduling.AFFINITY: 2}))
    assert message == ("0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, "
                       "2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: "
                       "3 Preemption is not helpful for scheduling.")


def test_pick_reports_first_failing_filter_per_node() -> None:
    nodes = [node("a", [UNREACHABLE_NS]), node("b", labels={"pool": "x"}), node("c", unschedulable=True)]
    chosen, message = scheduling.pick(pod(selector={"pool": "y"}), nodes, [])
    assert chosen is None
    assert message.startswith("0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                              "1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, "
                              "1 node(s) were unschedulable.")


def test_pick_prefers_fewest_pods_and_honours_host_ports() -> None:
    nodes = [node("a"), node("b")]
    busy = [pod("x", "a"), pod("y", "a")]
    assert scheduling.pick(pod(), nodes, busy) == ("b", "")
    holders = [pod("h1", "a", host_port=443), pod("h2", "b", host_port=443)]
    chosen, message = scheduling.pick(pod(host_port=443), nodes, holders)
    assert chosen is None and "2 node(s) didn't have free ports for the requested pod ports" in message
    assert "2 No preemption victims found for incoming pod" in message


def test_pick_binds_on_tolerated_taint() -> None:
    tolerant = pod(tolerations=[{"key": taints.UNREACHABLE, "operator": "Exists"}])
    assert scheduling.pick(tolerant, [node("a", [UNREACHABLE_NS])], [])[0] == "a"


def test_health_tracker_times_out_only_without_new_heartbeats() -> None:
    tracker = node_lifecycle.HealthTracker(grace=40)
    subject = node("a")
    assert not tracker.timed_out(subject, None, now=0)
    assert not tracker.timed_out(subject, None, now=40)
    assert tracker.timed_out(subject, None, now=41)
    renewed = {"spec": {"renewTime": "later"}}
    assert not tracker.timed_out(subject, renewed, now=42)
    assert tracker.timed_out(subject, renewed, now=83)


def test_mark_unknown_sets_all_conditions_once() -> None:
    subject = node("a")
    assert node_lifecycle.mark_unknown(subject, "now")
    ready = node_lifecycle.condition(subject, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert ready["lastHeartbeatTime"] == "t0"
    assert node_lifecycle.condition(subject, "MemoryPressure")["reason"] == "NodeStatusNeverUpdated"
    assert not node_lifecycle.mark_unknown(subject, "later")


def taint_keys(subject: dict) -> set:
    return {(t["key"], t["effect"]) for t in subject["spec"]["taints"]}


def test_unreachable_taints_noschedule_and_noexecute_then_readded_then_removed() -> None:
    subject = node("a", ready="Unknown")
    assert node_lifecycle.reconcile_taints(subject, "now", keep_stale=False)
    assert taint_keys(subject) == {(taints.UNREACHABLE, "NoSchedule"), (taints.UNREACHABLE, "NoExecute")}
    assert not node_lifecycle.reconcile_taints(subject, "now", keep_stale=False)
    subject["spec"]["taints"] = [t for t in subject["spec"]["taints"] if t["effect"] != "NoExecute"]
    assert node_lifecycle.reconcile_taints(subject, "now", keep_stale=False)
    assert (taints.UNREACHABLE, "NoExecute") in taint_keys(subject)
    subject["status"]["conditions"][0]["status"] = "False"
    node_lifecycle.reconcile_taints(subject, "now", keep_stale=False)
    assert taint_keys(subject) == {(taints.NOT_READY, "NoSchedule"), (taints.NOT_READY, "NoExecute")}
    subject["status"]["conditions"][0]["status"] = "True"
    node_lifecycle.reconcile_taints(subject, "now", keep_stale=False)
    assert taint_keys(subject) == set()


def test_stale_taints_fault_keeps_taints_on_ready_node_only() -> None:
    subject = node("a", [UNREACHABLE_NS, dict(UNREACHABLE_NE), {"key": "custom", "effect": "NoSchedule"}])
    assert not node_lifecycle.reconcile_taints(subject, "now", keep_stale=True)
    assert node_lifecycle.reconcile_taints(subject, "now", keep_stale=False)
    assert taint_keys(subject) == {("custom", "NoSchedule")}


def test_cordon_taint_follows_unschedulable() -> None:
    subject = node("a", unschedulable=True)
    node_lifecycle.reconcile_taints(subject, "now", keep_stale=False)
    assert taint_keys(subject) == {(taints.UNSCHEDULABLE, "NoSchedule")}
    subject["spec"]["unschedulable"] = False
    node_lifecycle.reconcile_taints(subject, "now", keep_stale=False)
    assert taint_keys(subject) == set()


def test_stale_taints_fault_file(tmp_path) -> None:
    faults = tmp_path / "standin-faults"
    assert not node_lifecycle.stale_taints_fault(str(faults))
    faults.write_text("other\nstale-taints\n")
    assert node_lifecycle.stale_taints_fault(str(faults))


def test_toleration_limit_follows_toleration_seconds() -> None:
    assert taint_eviction.toleration_limit(pod(), [UNREACHABLE_NE]) == 0
    tolerating = pod(tolerations=[{"key": taints.UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                                   "tolerationSeconds": 300}])
    assert taint_eviction.toleration_limit(tolerating, [UNREACHABLE_NE]) == 300
    forever = pod(tolerations=[{"key": taints.UNREACHABLE, "operator": "Exists"}])
    assert taint_eviction.toleration_limit(forever, [UNREACHABLE_NE]) is None
    assert taint_eviction.toleration_limit(pod(), [UNREACHABLE_NS]) is None


def test_daemonset_eligibility_like_node_should_run_daemon_pod() -> None:
    ds = {"metadata": {"name": "svclb-x", "namespace": "kube-system", "uid": "u"},
          "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}}}}
    assert daemonset.should_run(ds, node("a")) == (True, True)
    assert daemonset.should_run(ds, node("a", [UNREACHABLE_NS, UNREACHABLE_NE])) == (False, True)
    assert daemonset.should_run(ds, node("a", [{"key": "dedicated", "effect": "NoExecute"}])) == (False, False)
    made = daemonset.daemon_pod(ds, "a")
    assert daemonset.target_node(made) == "a"
    assert made["metadata"]["labels"][daemonset.REVISION_LABEL] == daemonset.revision(ds)


def test_durations() -> None:
    assert durations.parse("40s") == 40
    assert durations.parse("1m30s") == 90
    assert durations.parse("500ms") == 0.5
    assert durations.seconds("x", {}, 5.0) == 5.0
    with pytest.raises(ValueError):
        durations.parse("forty")


def test_names_alphabet_and_stable_hash() -> None:
    template = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c"}]}}
    assert names.template_hash(template) == names.template_hash(dict(template))
    assert set(names.template_hash(template) + names.suffix()) <= set(names.ALPHABET)


def test_endpoint_subsets_split_ready_and_resolve_named_ports() -> None:
    service = {"spec": {"ports": [{"name": "https", "port": 443, "targetPort": "https"}]}}
    ready = {"metadata": {"name": "r", "namespace": "d", "uid": "1"}, "spec": {"nodeName": "a", "containers": [
        {"ports": [{"name": "https", "containerPort": 8443}]}]},
        "status": {"podIP": "10.42.0.5", "conditions": [{"type": "Ready", "status": "True"}]}}
    unready = {"metadata": {"name": "u", "namespace": "d", "uid": "2"}, "spec": ready["spec"],
               "status": {"podIP": "10.42.1.5", "conditions": [{"type": "Ready", "status": "False"}]}}
    [subset] = endpoints.subsets(service, [ready, unready])
    assert subset["ports"] == [{"port": 8443, "protocol": "TCP", "name": "https"}]
    assert [a["ip"] for a in subset["addresses"]] == ["10.42.0.5"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.42.1.5"]


def test_terminating_pod_leaves_endpoints_but_stays_in_the_slice_not_ready() -> None:
    service = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 80}]}}
    spec = {"nodeName": "a", "containers": [{"ports": [{"containerPort": 80}]}]}
    ready = {"type": "Ready", "status": "True"}
    staying = {"metadata": {"name": "s", "namespace": "d", "uid": "1"}, "spec": spec,
               "status": {"podIP": "10.42.0.5", "conditions": [ready]}}
    leaving = {"metadata": {"name": "l", "namespace": "d", "uid": "2", "deletionTimestamp": "2025-11-24T16:05:31Z"},
               "spec": spec, "status": {"podIP": "10.42.1.5", "conditions": [ready]}}
    done = {"metadata": {"name": "f", "namespace": "d", "uid": "3"}, "spec": spec,
            "status": {"podIP": "10.42.2.5", "phase": "Succeeded", "conditions": []}}
    [subset] = endpoints.subsets(service, [staying, leaving, done])
    assert [a["ip"] for a in subset["addresses"]] == ["10.42.0.5"] and "notReadyAddresses" not in subset
    slice_endpoints, ports = endpoints.slice_body(service, [staying, leaving, done])
    assert [(e["addresses"], e["conditions"]) for e in slice_endpoints] == [
        (["10.42.0.5"], {"ready": True, "serving": True, "terminating": False}),
        (["10.42.1.5"], {"ready": False, "serving": True, "terminating": True})]
    assert ports == [{"port": 80, "protocol": "TCP", "name": "http"}]
    published = {"spec": {**service["spec"], "publishNotReadyAddresses": True}}
    assert [a["ip"] for a in endpoints.subsets(published, [staying, leaving])[0]["addresses"]] == \
        ["10.42.0.5", "10.42.1.5"]
    assert endpoints.slice_endpoint(published, leaving)["conditions"]["ready"] is True


def test_servicelb_names_and_ingress() -> None:
    service = {"metadata": {"name": "rancher", "namespace": "cattle-system", "uid": "0123456789abcdef"},
               "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}]}}
    ds = servicelb.daemonset_for(service)
    assert ds["metadata"]["name"] == "svclb-rancher-01234567"
    assert ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostPort"] == 443
    running = {"spec": {"nodeName": "a"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    pending = {"spec": {}, "status": {}}
    assert servicelb.ingress([running, pending], {"a": node("a")}) == [{"ip": "10.213.0.1", "ipMode": "VIP"}]
