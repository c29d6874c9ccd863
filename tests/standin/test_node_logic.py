"""Unit tests of the stand-in node side's pure logic: kmsg and conntrack start-up errors, node object,
pod status from the runtime, kube-proxy rules, svclb endpoint choice, host-gw routes."""

from __future__ import annotations

import types
from typing import Any

import pytest

from k3s_standin.node import conntrack, kmsg, kube_proxy, node_object, pod_network, svclb
from k3s_standin.node.pod_status import pod_status
from k3s_standin.node.runtime import PodRuntime


def test_kmsg_missing_gives_kubelet_error(tmp_path) -> None:
    missing = tmp_path / "kmsg"
    assert kmsg.open_kmsg(str(missing)) == (
        f"failed to run Kubelet: failed to create kubelet: open {missing}: no such file or directory")
    missing.write_text("")
    assert kmsg.open_kmsg(str(missing)) is None


def test_conntrack_desired_max_like_kube_proxy() -> None:
    assert conntrack.desired_max({}, 2) == 131072
    assert conntrack.desired_max({}, 8) == 262144
    assert conntrack.desired_max({"conntrack-max-per-core": "0"}, 8) == 0
    assert conntrack.desired_max({"conntrack-min": "1000", "conntrack-max-per-core": "100"}, 2) == 1000


def test_conntrack_raises_only_when_lower(tmp_path) -> None:
    limit = tmp_path / "nf_conntrack_max"
    limit.write_text("65536\n")
    assert conntrack.ensure_max({}, str(limit)) is None
    assert int(limit.read_text()) >= 131072
    limit.write_text("9999999\n")
    assert conntrack.ensure_max({}, str(limit)) is None
    assert limit.read_text() == "9999999\n"


def test_conntrack_failure_text_is_go_path_error(tmp_path) -> None:
    assert conntrack.ensure_max({}, str(tmp_path)) == f"open {tmp_path}: is a directory"
    assert conntrack.ensure_max({"conntrack-max-per-core": "0"}, str(tmp_path)) is None


def options(role: str = "agent", labels: tuple = (), node_taints: tuple = ()) -> types.SimpleNamespace:
    return types.SimpleNamespace(role=role, node_name="k3s-worker-1", hostname="k3s-worker-1",
                                 node_labels=labels, node_taints=node_taints)


def test_registration_labels_and_taints() -> None:
    body = node_object.registration(options("server", ("zone=a",), ("dedicated=lb:NoSchedule",)), "10.213.0.101")
    labels = body["metadata"]["labels"]
    assert labels["node-role.kubernetes.io/control-plane"] == "true" and labels["zone"] == "a"
    assert body["spec"]["taints"] == [{"key": "dedicated", "value": "lb", "effect": "NoSchedule"}]
    assert "node-role.kubernetes.io/control-plane" not in node_object.labels(options())
    with pytest.raises(node_object.NodeSpecError):
        node_object.parse_taint("dedicated=lb:Sometimes")


def test_post_status_heartbeat_keeps_transition_time() -> None:
    node = {"status": {}}
    node_object.post_status(node, "10.213.0.111", "k3s-worker-1", "t1")
    node_object.post_status(node, "10.213.0.111", "k3s-worker-1", "t2")
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
    assert (ready["status"], ready["lastHeartbeatTime"], ready["lastTransitionTime"]) == ("True", "t2", "t1")
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "10.213.0.111"}


def make_pod(image: str) -> dict:
    return {"metadata": {"name": "p", "namespace": "d", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": image}]}, "status": {"phase": "Pending"}}


class Serving:
    def start(self) -> None:
        return

    def stop(self) -> None:
        return


class Completed(Serving):
    """A run-to-completion container that has exited 0."""

    exit_code = 0


def test_unknown_image_is_an_honest_pull_error() -> None:
    pod = make_pod("nginx:1.27")
    runtime = PodRuntime(pod, "10.42.1.2", lambda *_: None)
    runtime.start("t0")
    status = pod_status(pod, runtime, "10.213.0.111", "t0")
    waiting = status["containerStatuses"][0]["state"]["waiting"]
    assert status["phase"] == "Pending" and waiting["reason"] == "ErrImagePull"
    assert waiting["message"].startswith('failed to pull image "nginx:1.27": ')
    assert waiting["message"].endswith("(air-gapped lab)")
    runtime.created -= 60
    backoff = pod_status(pod, runtime, "10.213.0.111", "t1")["containerStatuses"][0]["state"]["waiting"]
    assert backoff["reason"] == "ImagePullBackOff"


def test_running_and_completed_pods() -> None:
    pod = make_pod("rancher/rancher:v2.9.3")
    runtime = PodRuntime(pod, "10.42.1.2", lambda *_: Serving())
    runtime.start("t0")
    status = pod_status(pod, runtime, "10.213.0.111", "t0")
    assert status["phase"] == "Running" and status["podIP"] == "10.42.1.2"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    job_pod = make_pod("rancher/klipper-helm:v0.9.3")
    job_pod["spec"]["restartPolicy"] = "OnFailure"
    job = PodRuntime(job_pod, "10.42.1.3", lambda *_: Completed())
    job.start("t0")
    job.tick("t0")
    assert pod_status(job.pod, job, "10.213.0.111", "t0")["phase"] == "Succeeded"


SERVICE = {"metadata": {"name": "rancher", "namespace": "cattle-system"},
           "spec": {"clusterIP": "10.43.0.50", "ports": [{"name": "https", "port": 443, "nodePort": 30443}]}}
ENDPOINTS = {"subsets": [{"addresses": [{"ip": "10.42.1.5"}, {"ip": "10.42.2.5"}],
                          "ports": [{"name": "https", "port": 443}]}]}


def endpoint(ip: str, ready: bool = True, serving: bool = True, terminating: bool = False) -> dict[str, Any]:
    return {"addresses": [ip], "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}


def endpoint_slice(*endpoints: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": "cattle-system", "name": "rancher-x1",
                         "labels": {"kubernetes.io/service-name": "rancher"}},
            "endpoints": list(endpoints), "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}


SLICE = endpoint_slice(endpoint("10.42.1.5"), endpoint("10.42.2.5"))


def test_kube_proxy_rules_dnat_nodeport_and_reject() -> None:
    nat, filt = kube_proxy.rules([SERVICE], kube_proxy.slices_by_service([SLICE]))
    text = "\n".join(nat)
    assert "-d 10.43.0.50/32 -p tcp -m tcp --dport 443" in text
    assert "-j DNAT --to-destination 10.42.1.5:443" in text and "-j DNAT --to-destination 10.42.2.5:443" in text
    assert "--probability 0.50000" in text
    assert "-A KUBE-NODEPORTS -p tcp -m tcp --dport 30443 -j KUBE-MARK-MASQ" in text
    assert filt == [":KUBE-SERVICES - [0:0]"]
    nat, filt = kube_proxy.rules([SERVICE], {})
    assert any("REJECT" in line and "10.43.0.50/32" in line for line in filt)
    assert not any("DNAT" in line for line in nat)


def test_kube_proxy_leaves_a_terminating_endpoint_while_a_ready_one_is_left() -> None:
    https = SERVICE["spec"]["ports"][0]
    draining = endpoint("10.42.1.5", ready=False, serving=True, terminating=True)
    assert kube_proxy.usable_endpoints([endpoint_slice(draining, endpoint("10.42.2.5"))], https) == \
        [("10.42.2.5", 443)]
    # No ready endpoint left: the serving terminating ones take new connections (ProxyTerminatingEndpoints).
    assert kube_proxy.usable_endpoints([endpoint_slice(draining)], https) == [("10.42.1.5", 443)]
    stopped = endpoint("10.42.1.5", ready=False, serving=False, terminating=True)
    assert kube_proxy.usable_endpoints([endpoint_slice(stopped, endpoint("10.42.3.5", ready=False, serving=False))],
                                       https) == []
    nat, filt = kube_proxy.rules([SERVICE], kube_proxy.slices_by_service([endpoint_slice(stopped)]))
    assert any("has no endpoints" in line for line in filt) and not any("DNAT" in line for line in nat)


def test_svclb_rotates_over_ready_endpoints() -> None:
    picks = {svclb.endpoint_for(SERVICE, ENDPOINTS, 443, turn) for turn in range(4)}
    assert picks == {("10.42.1.5", 443), ("10.42.2.5", 443)}
    assert svclb.endpoint_for(SERVICE, {"subsets": []}, 443, 0) is None
    assert svclb.endpoint_for(SERVICE, ENDPOINTS, 80, 0) is None


def test_host_gw_routes_for_other_nodes_only() -> None:
    def node(name: str, cidr: str, address: str) -> dict:
        return {"metadata": {"name": name}, "spec": {"podCIDR": cidr},
                "status": {"addresses": [{"type": "InternalIP", "address": address}]}}

    nodes = [node("k3s-control", "10.42.0.0/24", "10.213.0.101"), node("k3s-worker-1", "10.42.1.0/24", "10.213.0.111"),
             {"metadata": {"name": "new"}, "spec": {}, "status": {}}]
    assert pod_network.wanted_routes(nodes, "k3s-worker-1") == {"10.42.0.0/24": "10.213.0.101"}
