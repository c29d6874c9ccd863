"""Object lifecycle semantics: graceful pod deletion, binding, owner cascade, namespaces, restarts."""

from __future__ import annotations

import uuid

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from conftest import free_port, start_server, stop_server


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _pod(name: str, node: str | None = None) -> dict:
    # a scheduler name of its own keeps the stand-in's scheduler away from these pods
    spec = {"schedulerName": "conformance-test", "containers": [{"name": "main", "image": "busybox:1.36"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


def test_deleting_a_pod_on_a_node_leaves_it_terminating(core_v1, make_node):
    name = _name("graceful")
    core_v1.create_namespaced_pod("default", _pod(name, make_node()))
    core_v1.delete_namespaced_pod(name, "default")
    assert core_v1.read_namespaced_pod(name, "default").metadata.deletion_timestamp is not None


def test_grace_period_zero_removes_a_pod_at_once(core_v1, make_node):
    name = _name("forced")
    core_v1.create_namespaced_pod("default", _pod(name, make_node()))
    core_v1.delete_namespaced_pod(name, "default", grace_period_seconds=0)
    with pytest.raises(ApiException) as error:
        core_v1.read_namespaced_pod(name, "default")
    assert error.value.status == 404


def test_binding_sets_the_node_and_pod_scheduled(core_v1, make_node):
    name, node = _name("bind"), make_node()
    core_v1.create_namespaced_pod("default", _pod(name))
    core_v1.create_namespaced_pod_binding(name, "default", {
        "metadata": {"name": name}, "target": {"apiVersion": "v1", "kind": "Node", "name": node}},
        _preload_content=False)
    pod = core_v1.read_namespaced_pod(name, "default")
    assert (pod.spec.node_name, [(c.type, c.status) for c in pod.status.conditions]) == (
        node, [("PodScheduled", "True")])


def test_binding_an_already_bound_pod_is_409(core_v1, make_node):
    name = _name("bound")
    core_v1.create_namespaced_pod("default", _pod(name, make_node()))
    with pytest.raises(ApiException) as error:
        core_v1.create_namespaced_pod_binding(name, "default", {
            "metadata": {"name": name}, "target": {"kind": "Node", "name": "elsewhere"}})
    assert error.value.status == 409


def test_eviction_starts_a_graceful_deletion(core_v1, make_node):
    name = _name("evicted")
    core_v1.create_namespaced_pod("default", _pod(name, make_node()))
    core_v1.create_namespaced_pod_eviction(name, "default", {"metadata": {"name": name}},
                                           _preload_content=False)
    assert core_v1.read_namespaced_pod(name, "default").metadata.deletion_timestamp is not None


def test_deleting_an_owner_deletes_its_dependents(core_v1):
    owner = core_v1.create_namespaced_config_map("default", {"metadata": {"name": _name("owner")}})
    dependent = _name("dependent")
    core_v1.create_namespaced_config_map("default", {"metadata": {"name": dependent, "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid}]}})
    core_v1.delete_namespaced_config_map(owner.metadata.name, "default")
    with pytest.raises(ApiException) as error:
        core_v1.read_namespaced_config_map(dependent, "default")
    assert error.value.status == 404


def test_deleting_a_namespace_deletes_what_it_holds(core_v1):
    namespace = _name("ns")
    core_v1.create_namespace({"metadata": {"name": namespace}})
    core_v1.create_namespaced_config_map(namespace, {"metadata": {"name": "inside"}})
    core_v1.delete_namespace(namespace)
    with pytest.raises(ApiException) as error:
        core_v1.read_namespaced_config_map("inside", namespace)
    assert error.value.status == 404


def test_custom_resources_refuse_strategic_merge_patch(api_client, kubectl):
    name = _name("chart")
    kubernetes.client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "helm.cattle.io", "v1", "kube-system", "helmcharts", {
            "apiVersion": "helm.cattle.io/v1", "kind": "HelmChart", "metadata": {"name": name},
            "spec": {"chart": "example", "repo": "https://charts.example.invalid"}})
    result = kubectl("-n", "kube-system", "patch", "helmchart", name, "--type=strategic",
                     "-p", '{"spec":{"version":"1"}}')
    assert "is not supported by helm.cattle.io/v1, Kind=HelmChart" in result.stderr


def test_objects_survive_a_server_restart(tmp_path):
    server = start_server(tmp_path, free_port())
    try:
        client = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
        kubernetes.client.CoreV1Api(client).create_namespaced_config_map(
            "default", {"metadata": {"name": "kept"}, "data": {"a": "1"}})
        stop_server(server)
        server = start_server(tmp_path, int(server.url.rsplit(":", 1)[1]))
        client = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
        kept = kubernetes.client.CoreV1Api(client).read_namespaced_config_map("kept", "default")
    finally:
        stop_server(server)
    assert kept.data == {"a": "1"}
