"""The official Kubernetes Python client against the stand-in: reads, writes, errors, selectors."""

from __future__ import annotations

import hashlib
import json
import ssl
import urllib.error
import urllib.request
import uuid

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from conftest import node_body


def _pod(name: str, labels: dict | None = None, node: str | None = None) -> dict:
    spec = {"containers": [{"name": "main", "image": "busybox:1.36"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_list_node_includes_a_created_node(core_v1, make_node):
    name = make_node()
    assert name in [node.metadata.name for node in core_v1.list_node().items]


def test_patch_node_merges_labels(core_v1, make_node):
    name = make_node()
    core_v1.patch_node(name, {"metadata": {"labels": {"example.com/zone": "a"}}})
    labels = core_v1.read_node(name).metadata.labels
    assert (labels["example.com/zone"], labels["kubernetes.io/hostname"]) == ("a", name)


def test_patch_node_replaces_the_taint_list(core_v1, make_node):
    name = make_node()
    core_v1.patch_node(name, {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}})
    core_v1.patch_node(name, {"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}})
    assert [t.key for t in core_v1.read_node(name).spec.taints] == ["b"]


def test_patch_node_status_merges_conditions_by_type(core_v1, make_node):
    name = make_node(ready=False)
    core_v1.patch_node_status(name, {"status": {"conditions": [
        {"type": "MemoryPressure", "status": "False"}]}})
    assert sorted(c.type for c in core_v1.read_node(name).status.conditions) == ["MemoryPressure", "Ready"]


def test_patch_of_status_subresource_leaves_spec_alone(core_v1, make_node):
    name = make_node()
    core_v1.patch_node_status(name, {"spec": {"unschedulable": True}})
    assert not core_v1.read_node(name).spec.unschedulable


def test_read_namespaced_service_returns_the_kubernetes_service(core_v1):
    service = core_v1.read_namespaced_service("kubernetes", "default")
    assert (service.spec.cluster_ip, service.spec.ports[0].port) == ("10.43.0.1", 443)


def test_service_gets_a_cluster_ip_from_the_service_cidr(core_v1):
    service = core_v1.create_namespaced_service("default", {
        "metadata": {"name": _name("svc")}, "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}}})
    assert service.spec.cluster_ip.startswith("10.43.")


def test_requested_node_port_is_honoured(core_v1):
    service = core_v1.create_namespaced_service("default", {
        "metadata": {"name": _name("np")},
        "spec": {"type": "NodePort", "ports": [{"port": 443, "nodePort": 31443}]}})
    assert service.spec.ports[0].node_port == 31443


def test_node_port_clash_is_422_invalid(core_v1):
    body = {"spec": {"type": "NodePort", "ports": [{"port": 443, "nodePort": 31444}]}}
    core_v1.create_namespaced_service("default", {"metadata": {"name": _name("a")}, **body})
    with pytest.raises(ApiException) as error:
        core_v1.create_namespaced_service("default", {"metadata": {"name": _name("b")}, **body})
    assert error.value.status == 422


def test_list_namespaced_pod_returns_a_created_pod(core_v1):
    name = _name("pod")
    core_v1.create_namespaced_pod("default", _pod(name))
    pods = core_v1.list_namespaced_pod("default").items
    assert [(p.metadata.name, p.status.phase) for p in pods if p.metadata.name == name] == [(name, "Pending")]


def test_pod_gets_default_not_ready_and_unreachable_tolerations(core_v1):
    pod = core_v1.create_namespaced_pod("default", _pod(_name("tol")))
    assert sorted((t.key, t.effect, t.toleration_seconds) for t in pod.spec.tolerations) == [
        ("node.kubernetes.io/not-ready", "NoExecute", 300),
        ("node.kubernetes.io/unreachable", "NoExecute", 300)]


def test_pod_in_a_missing_namespace_is_404(core_v1):
    with pytest.raises(ApiException) as error:
        core_v1.create_namespaced_pod("no-such-namespace", _pod("p"))
    assert error.value.status == 404


def test_creating_an_existing_node_is_409_already_exists(core_v1, make_node):
    name = make_node()
    with pytest.raises(ApiException) as error:
        core_v1.create_node(node_body(name, True))
    assert (error.value.status, error.value.reason) == (409, "Conflict")


def test_update_with_a_stale_resource_version_is_409_conflict(core_v1, make_node):
    name = make_node()
    stale = core_v1.read_node(name)
    core_v1.patch_node(name, {"metadata": {"labels": {"touched": "yes"}}})
    with pytest.raises(ApiException) as error:
        core_v1.replace_node(name, stale)
    assert error.value.status == 409


def test_update_with_the_current_resource_version_succeeds(core_v1, make_node):
    name = make_node()
    node = core_v1.read_node(name)
    node.metadata.labels["updated"] = "yes"
    assert core_v1.replace_node(name, node).metadata.labels["updated"] == "yes"


def test_reading_a_missing_node_is_a_404_status(api_client):
    with pytest.raises(ApiException) as error:
        kubernetes.client.CoreV1Api(api_client).read_node("absent-node")
    assert (error.value.status, '"reason":"NotFound"' in error.value.body) == (404, True)


def test_request_without_credentials_is_401(k3s_server):
    context = ssl.create_default_context(cafile=k3s_server.ca_file)
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{k3s_server.url}/api/v1/nodes", context=context, timeout=5)
    assert error.value.code == 401


def test_request_with_a_wrong_token_is_401(k3s_server):
    context = ssl.create_default_context(cafile=k3s_server.ca_file)
    request = urllib.request.Request(f"{k3s_server.url}/api/v1/nodes",
                                     headers={"Authorization": "Bearer wrong"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, context=context, timeout=5)
    assert error.value.code == 401


def test_request_with_the_node_token_is_authorized(k3s_server):
    context = ssl.create_default_context(cafile=k3s_server.ca_file)
    request = urllib.request.Request(f"{k3s_server.url}/api/v1/nodes",
                                     headers={"Authorization": f"Bearer {k3s_server.node_token}"})
    with urllib.request.urlopen(request, context=context, timeout=5) as answer:
        assert answer.status == 200


def test_label_selector_filters_nodes(core_v1, make_node):
    chosen, other = make_node(), make_node()
    core_v1.patch_node(chosen, {"metadata": {"labels": {"pick": "me"}}})
    names = [n.metadata.name for n in core_v1.list_node(label_selector="pick in (me,you)").items]
    assert chosen in names and other not in names


def test_field_selector_on_metadata_name_returns_one_node(core_v1, make_node):
    name = make_node()
    make_node()
    assert [n.metadata.name for n in core_v1.list_node(field_selector=f"metadata.name={name}").items] == [name]


def test_field_selector_on_spec_node_name_filters_pods(core_v1):
    node = _name("host")
    core_v1.create_namespaced_pod("default", _pod(_name("on"), node=node))
    core_v1.create_namespaced_pod("default", _pod(_name("off")))
    pods = core_v1.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    assert [p.spec.node_name for p in pods] == [node]


def test_unsupported_field_selector_is_400(core_v1):
    with pytest.raises(ApiException) as error:
        core_v1.list_node(field_selector="spec.podCIDR=10.42.0.0/24")
    assert error.value.status == 400


def test_deleting_a_node_makes_it_unreadable(core_v1):
    name = _name("gone")
    core_v1.create_node(node_body(name, True))
    core_v1.delete_node(name)
    with pytest.raises(ApiException) as error:
        core_v1.read_node(name)
    assert error.value.status == 404


def test_cacerts_answers_without_credentials(k3s_server):
    """k3s's own /cacerts handler; /version is kube-apiserver's (test_health_endpoints.py)."""
    context = ssl.create_default_context(cafile=k3s_server.ca_file)
    with urllib.request.urlopen(f"{k3s_server.url}/cacerts", context=context, timeout=5) as answer:
        ca = answer.read().decode()
    assert ca == open(k3s_server.ca_file).read()


def test_version_answers_the_k3s_release(k3s_server):
    context = ssl.create_default_context(cafile=k3s_server.ca_file)
    request = urllib.request.Request(f"{k3s_server.url}/version",
                                     headers={"Authorization": f"Bearer {k3s_server.node_token}"})
    with urllib.request.urlopen(request, context=context, timeout=5) as answer:
        assert json.loads(answer.read())["gitVersion"] == "v1.31.4+k3s1"


def test_kubeconfig_and_node_token_are_private(k3s_server):
    modes = [path.stat().st_mode & 0o777
             for path in (k3s_server.kubeconfig, k3s_server.data_dir / "server" / "node-token")]
    assert modes == [0o600, 0o600]


def test_node_token_carries_the_ca_hash(k3s_server):
    digest = hashlib.sha256(open(k3s_server.ca_file, "rb").read()).hexdigest()
    assert k3s_server.node_token.startswith(f"K10{digest}::server:")
