"""Strategic merge, JSON merge and JSON patch semantics (pure logic, no server)."""

from __future__ import annotations

import pytest

from k3s_standin.apiserver.errors import ApiError
from k3s_standin.apiserver.patch import JSON_PATCH, MERGE, STRATEGIC, apply_patch

POD = {"metadata": {"name": "p", "finalizers": ["a"]},
       "spec": {"containers": [{"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}],
                                "env": [{"name": "A", "value": "1"}]},
                               {"name": "sidecar", "image": "busybox"}],
                "tolerations": [{"key": "x", "operator": "Exists"}]}}


def test_strategic_merge_merges_containers_by_name():
    patched = apply_patch(POD, {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}, STRATEGIC, "Pod")
    assert [(c["name"], c["image"]) for c in patched["spec"]["containers"]] == [("web", "nginx:2"),
                                                                                ("sidecar", "busybox")]


def test_strategic_merge_merges_container_env_by_name():
    patch = {"spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "2"}]}]}}
    patched = apply_patch(POD, patch, STRATEGIC, "Pod")
    assert [e["name"] for e in patched["spec"]["containers"][0]["env"]] == ["A", "B"]


def test_strategic_merge_replaces_lists_without_a_merge_key():
    patch = {"spec": {"tolerations": [{"key": "y", "operator": "Exists"}]}}
    assert apply_patch(POD, patch, STRATEGIC, "Pod")["spec"]["tolerations"] == [{"key": "y", "operator": "Exists"}]


def test_strategic_merge_patch_delete_directive_removes_a_list_element():
    patch = {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}
    assert [c["name"] for c in apply_patch(POD, patch, STRATEGIC, "Pod")["spec"]["containers"]] == ["web"]


def test_strategic_merge_patch_replace_directive_replaces_a_list():
    patch = {"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}}
    assert apply_patch(POD, patch, STRATEGIC, "Pod")["spec"]["containers"] == [{"name": "only", "image": "x"}]


def test_strategic_merge_null_removes_a_field():
    patched = apply_patch({"spec": {"unschedulable": True}}, {"spec": {"unschedulable": None}}, STRATEGIC, "Node")
    assert patched["spec"] == {}


def test_strategic_merge_unions_finalizers():
    patched = apply_patch(POD, {"metadata": {"finalizers": ["b", "a"]}}, STRATEGIC, "Pod")
    assert patched["metadata"]["finalizers"] == ["a", "b"]


def test_strategic_merge_delete_from_primitive_list():
    patched = apply_patch(POD, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, STRATEGIC, "Pod")
    assert patched["metadata"]["finalizers"] == []


def test_strategic_merge_retain_keys_drops_other_keys():
    original = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert apply_patch(original, patch, STRATEGIC, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_strategic_merge_set_element_order_orders_the_merged_list():
    patch = {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
                      "containers": [{"name": "web", "image": "nginx:3"}]}}
    assert [c["name"] for c in apply_patch(POD, patch, STRATEGIC, "Pod")["spec"]["containers"]] == ["sidecar", "web"]


def test_strategic_merge_merges_service_ports_by_port():
    service = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    patched = apply_patch(service, {"spec": {"ports": [{"port": 443, "nodePort": 30443}]}}, STRATEGIC, "Service")
    assert patched["spec"]["ports"][1] == {"port": 443, "name": "https", "nodePort": 30443}


def test_strategic_merge_merges_node_conditions_by_type():
    node = {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "False"}]}}
    patched = apply_patch(node, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, STRATEGIC, "Node")
    assert patched["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                               {"type": "DiskPressure", "status": "False"}]


def test_strategic_merge_replaces_node_taints():
    node = {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}, {"key": "b", "effect": "NoExecute"}]}}
    patched = apply_patch(node, {"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}}, STRATEGIC, "Node")
    assert patched["spec"]["taints"] == [{"key": "b", "effect": "NoExecute"}]


def test_merge_patch_replaces_lists_and_deletes_nulls():
    patched = apply_patch(POD, {"metadata": {"finalizers": None}, "spec": {"containers": []}}, MERGE, "Pod")
    assert ("finalizers" in patched["metadata"], patched["spec"]["containers"]) == (False, [])


def test_json_patch_adds_replaces_and_removes():
    operations = [{"op": "add", "path": "/metadata/labels", "value": {"a/b": "1"}},
                  {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:9"},
                  {"op": "remove", "path": "/spec/containers/1"}]
    patched = apply_patch(POD, operations, JSON_PATCH, "Pod")
    assert (patched["metadata"]["labels"], [c["image"] for c in patched["spec"]["containers"]]) == (
        {"a/b": "1"}, ["nginx:9"])


def test_json_patch_escaped_pointer_addresses_a_label_with_a_slash():
    node = {"metadata": {"labels": {"node-role.kubernetes.io/master": "true"}}}
    patched = apply_patch(node, [{"op": "remove", "path": "/metadata/labels/node-role.kubernetes.io~1master"}],
                          JSON_PATCH, "Node")
    assert patched["metadata"]["labels"] == {}


def test_json_patch_failed_test_operation_is_rejected():
    with pytest.raises(ApiError) as error:
        apply_patch(POD, [{"op": "test", "path": "/metadata/name", "value": "other"}], JSON_PATCH, "Pod")
    assert error.value.code == 422


def test_patch_leaves_the_original_untouched():
    apply_patch(POD, {"spec": {"containers": [{"name": "web", "image": "changed"}]}}, STRATEGIC, "Pod")
    assert POD["spec"]["containers"][0]["image"] == "nginx:1"
