"""The real kubectl against the stand-in's API: get, taint, cordon, wait, describe."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import kubernetes

from conftest import KUBECTL, ready_condition


def test_get_nodes_json_lists_the_created_node(kubectl, make_node):
    name = make_node()
    result = kubectl("get", "nodes", "-o", "json")
    assert name in [item["metadata"]["name"] for item in json.loads(result.stdout)["items"]]


def test_get_node_jsonpath_prints_the_internal_ip(kubectl, make_node):
    name = make_node(address="10.213.0.77")
    result = kubectl("get", "node", name, "-o",
                     'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}')
    assert result.stdout == "10.213.0.77"


def test_get_nodes_wide_prints_the_real_columns(kubectl, make_node):
    make_node()
    result = kubectl("get", "nodes", "-o", "wide")
    assert result.stdout.split("\n")[0].split() == [
        "NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE",
        "KERNEL-VERSION", "CONTAINER-RUNTIME"]


def test_get_node_wide_row_shows_status_version_and_ip(kubectl, make_node):
    name = make_node(ready=False, address="10.213.0.78")
    row = kubectl("get", "node", name, "-o", "wide", "--no-headers").stdout.split()
    assert (row[0], row[1], row[2], row[4], row[5]) == (name, "NotReady", "<none>", "v1.31.4+k3s1",
                                                       "10.213.0.78")


def test_taint_adds_a_noschedule_taint(kubectl, make_node, core_v1):
    name = make_node()
    kubectl("taint", "nodes", name, "node.kubernetes.io/unreachable:NoSchedule")
    taints = core_v1.read_node(name).spec.taints
    assert [(t.key, t.effect) for t in taints] == [("node.kubernetes.io/unreachable", "NoSchedule")]


def test_taint_with_trailing_dash_removes_the_taint(kubectl, make_node, core_v1):
    name = make_node()
    kubectl("taint", "nodes", name, "example.com/a=b:NoSchedule")
    kubectl("taint", "nodes", name, "example.com/b:NoExecute")
    result = kubectl("taint", "nodes", name, "example.com/a:NoSchedule-")
    assert result.returncode == 0
    assert [t.key for t in core_v1.read_node(name).spec.taints] == ["example.com/b"]


def test_taint_removing_an_absent_taint_fails(kubectl, make_node):
    name = make_node()
    result = kubectl("taint", "nodes", name, "example.com/none:NoSchedule-")
    assert result.returncode != 0


def test_cordon_marks_the_node_unschedulable(kubectl, make_node, core_v1):
    name = make_node()
    kubectl("cordon", name)
    assert core_v1.read_node(name).spec.unschedulable is True


def test_cordoned_node_shows_scheduling_disabled(kubectl, make_node):
    name = make_node()
    kubectl("cordon", name)
    assert kubectl("get", "node", name, "--no-headers").stdout.split()[1] == "Ready,SchedulingDisabled"


def test_uncordon_makes_the_node_schedulable_again(kubectl, make_node, core_v1):
    name = make_node()
    kubectl("cordon", name)
    kubectl("uncordon", name)
    assert not core_v1.read_node(name).spec.unschedulable


def test_wait_for_ready_returns_once_the_node_becomes_ready(kubeconfig, make_node, core_v1):
    name = make_node(ready=False)
    waiting = subprocess.Popen([KUBECTL, "wait", "--for=condition=Ready", f"node/{name}", "--timeout=20s"],
                               env={**os.environ, "KUBECONFIG": kubeconfig}, stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    core_v1.patch_node_status(name, {"status": {"conditions": [ready_condition(True)]}})
    assert waiting.wait(timeout=25) == 0


def test_wait_for_ready_times_out_while_the_node_is_not_ready(kubectl, make_node):
    name = make_node(ready=False)
    result = kubectl("wait", "--for=condition=Ready", f"node/{name}", "--timeout=2s")
    assert result.returncode != 0 and "timed out" in result.stderr


def test_describe_node_shows_taints_and_ready_condition(kubectl, make_node):
    name = make_node()
    kubectl("taint", "nodes", name, "node.kubernetes.io/unreachable:NoExecute")
    text = kubectl("describe", "node", name).stdout
    assert re.search(r"^Taints:\s+node\.kubernetes\.io/unreachable:NoExecute$", text, re.M)
    assert re.search(r"^\s+Ready\s+True\s", text, re.M)


def test_get_unknown_node_reports_not_found(kubectl):
    result = kubectl("get", "node", "no-such-node")
    assert result.stderr.strip() == 'Error from server (NotFound): nodes "no-such-node" not found'


def test_apply_twice_reports_unchanged(kubectl, tmp_path):
    manifest = tmp_path / "cm.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied, namespace: default}\n"
                        "data: {a: '1'}\n")
    kubectl("apply", "-f", str(manifest))
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "configmap/applied unchanged"


def test_get_helmcharts_all_namespaces_prints_the_chart(kubectl, tmp_path):
    manifest = tmp_path / "chart.yaml"
    manifest.write_text("apiVersion: helm.cattle.io/v1\nkind: HelmChart\n"
                        "metadata: {name: listed, namespace: kube-system}\n"
                        "spec: {chart: example, targetNamespace: example}\n")
    kubectl("apply", "-f", str(manifest))
    rows = [line.split() for line in kubectl("get", "helmcharts", "-A").stdout.splitlines()]
    assert ["kube-system", "listed"] in [row[:2] for row in rows]


def test_get_pods_wide_prints_status_node_and_ip(kubectl, core_v1, make_node):
    node = make_node()
    name = f"table-{node}"
    core_v1.create_namespaced_pod("default", {"metadata": {"name": name}, "spec": {
        "schedulerName": "conformance-test", "nodeName": node,
        "containers": [{"name": "main", "image": "busybox:1.36"}]}})
    row = kubectl("get", "pod", name, "-o", "wide", "--no-headers").stdout.split()
    assert (row[0], row[1], row[2], row[3], row[6]) == (name, "0/1", "Pending", "0", node)


def test_get_services_prints_type_cluster_ip_and_ports(kubectl, core_v1):
    service = core_v1.create_namespaced_service("default", {
        "metadata": {"name": "table-svc"},
        "spec": {"type": "NodePort", "ports": [{"port": 443, "nodePort": 31555}]}})
    row = kubectl("get", "service", "table-svc", "--no-headers").stdout.split()
    assert row[:5] == ["table-svc", "NodePort", service.spec.cluster_ip, "<none>", "443:31555/TCP"]


def test_create_namespace_sent_as_protobuf_creates_it(kubectl, core_v1):
    kubectl("create", "namespace", "made-by-kubectl")
    assert core_v1.read_namespace("made-by-kubectl").status.phase == "Active"


def test_create_deployment_sent_as_protobuf_gets_the_defaults(kubectl, api_client):
    kubectl("create", "deployment", "made-by-kubectl", "--image=nginx:1.25", "--replicas=2", "--port=80")
    deployment = kubernetes.client.AppsV1Api(api_client).read_namespaced_deployment("made-by-kubectl", "default")
    assert (deployment.spec.replicas, deployment.spec.strategy.type,
            deployment.spec.template.spec.containers[0].ports[0].container_port) == (2, "RollingUpdate", 80)


def test_drain_evicts_the_pods_of_the_node_gracefully(kubectl, core_v1, make_node):
    node = make_node()
    core_v1.create_namespaced_pod("default", {"metadata": {"name": f"drained-{node}"}, "spec": {
        "schedulerName": "conformance-test", "nodeName": node,
        "containers": [{"name": "main", "image": "busybox:1.36"}]}})
    kubectl("drain", node, "--force", "--grace-period=5", "--timeout=2s")
    pod = core_v1.read_namespaced_pod(f"drained-{node}", "default")
    assert (pod.metadata.deletion_grace_period_seconds, core_v1.read_node(node).spec.unschedulable) == (5, True)


def test_server_dry_run_create_answers_and_stores_nothing(kubectl):
    name = f"dry-{os.getpid()}"
    created = kubectl("create", "namespace", name, "--dry-run=server")
    found = kubectl("get", "namespace", name, "--ignore-not-found", "-o", "name")
    assert (created.stdout.strip(), found.stdout.strip()) == (f"namespace/{name} created (server dry run)", "")
