"""Rancher's status and the one-line diagnosis, from kubectl JSON shaped as the API returns it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from facts.rancher import RancherStatus, section_texts

FIXTURES = Path(__file__).parent / "fixtures"
SCHEDULER_MESSAGE = ("0/3 nodes are available: 3 node(s) had untolerated taint "
                     "{node.kubernetes.io/unreachable: }. preemption: 0/3 nodes are available.")


def condition(kind: str, status: str, message: str = "") -> dict:
    return {"type": kind, "status": status, "message": message}


def pod(name: str, labels: dict, phase: str = "Running", node: str | None = "k3s-worker-1",
        conditions: list | None = None, waiting: dict | None = None) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node},
            "status": {"phase": phase,
                       "conditions": conditions if conditions is not None else
                       [condition("PodScheduled", "True"), condition("Ready", "True")],
                       "containerStatuses": [{"state": {"waiting": waiting} if waiting else {"running": {}}}]}}


def rancher_pod(**kwargs) -> dict:
    return pod("rancher-7d9f-abcde", {"app": "rancher"}, **kwargs)


def svclb_pod(**kwargs) -> dict:
    return pod("svclb-rancher-lb-1a2b3c4d-x7k2p",
               {"svccontroller.k3s.cattle.io/svcname": "rancher-lb", "app": "svclb-rancher-lb-1a2b3c4d"}, **kwargs)


def deployment(available: bool = True) -> dict:
    return {"kind": "Deployment", "metadata": {"name": "rancher"}, "spec": {"replicas": 1},
            "status": {"readyReplicas": 1 if available else 0,
                       "conditions": [condition("Available", "True" if available else "False")]}}


def helmchart() -> dict:
    return {"kind": "HelmChart", "metadata": {"name": "rancher"}, "status": {"jobName": "helm-install-rancher"}}


def helmchart_section(objects: list) -> str:
    """What the fact's jsonpath prints: the HelmChart's name, then its status as JSON."""
    charts = [obj for obj in objects if obj["kind"] == "HelmChart"]
    return "\n".join(f"{c['metadata']['name']}\n{json.dumps(c['status'])}" for c in charts)


def job(failed: str | None = None) -> dict:
    return {"kind": "Job", "metadata": {"name": "helm-install-rancher"},
            "status": {"conditions": [condition("Failed", "True", failed)] if failed else []}}


def node(name: str, ready: bool = True, taints: list | None = None) -> dict:
    return {"kind": "Node", "metadata": {"name": name}, "spec": {"taints": taints or []},
            "status": {"conditions": [condition("Ready", "True" if ready else "Unknown")]}}


def output(cattle: list | str, system: list | str, nodes: list | str, ping: str) -> list[str]:
    def section(value):
        return value if isinstance(value, str) else json.dumps({"kind": "List", "items": value}, indent=1)
    charts = system if isinstance(system, str) else helmchart_section(system)
    jobs = system if isinstance(system, str) else [obj for obj in system if obj["kind"] == "Job"]
    svclb = system if isinstance(system, str) else [obj for obj in system if obj["kind"] == "Pod"]
    node_lines = nodes if isinstance(nodes, str) else "\n".join(
        f"{n['metadata']['name']}\t{n['status']['conditions'][0]['status']}\t{json.dumps(n['spec']['taints'])}"
        for n in nodes)
    text = (f"### cattle\n{section(cattle)}\n### helmchart\n{charts}\n### job\n{section(jobs)}\n"
            f"### svclb\n{section(svclb)}\n### nodes\n{node_lines}\n### ping\n{ping}\n")
    return text.splitlines()


HEALTHY_NODES = [node("k3s-control"), node("k3s-worker-1"), node("k3s-worker-2")]
UNREACHABLE = [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
               {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]


def status(*args) -> dict:
    return RancherStatus().process(output(*args))


def test_section_texts_keeps_each_body():
    assert section_texts(["### a", "1", "2", "### b", "x"]) == {"a": "1\n2", "b": "x"}


def test_available_deployment_answering_pong_is_ready():
    result = status([deployment(), rancher_pod()], [helmchart(), job(), svclb_pod()], HEALTHY_NODES, "pong")
    assert (result["ready"], result["problem"]) == (True, None)


def test_api_down_names_kubectls_summary_line():
    refused = ('E1124 16:12:22.274419 550 memcache.go:381] "Couldn\'t get current server API group list"\n'
               "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?")
    assert status(refused, refused, refused, "")["problem"] == (
        "kubectl failed: The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?")


def test_missing_helmchart_says_the_manifest_is_not_applied():
    assert status([], [], HEALTHY_NODES, "")["problem"].startswith("HelmChart kube-system/rancher not found")


def test_failed_install_job_gives_its_message():
    result = status([], [helmchart(), job("chart \"rancher\" not found in https://example.net")], HEALTHY_NODES, "")
    assert result["problem"] == 'HelmChart job helm-install-rancher failed: chart "rancher" not found in https://example.net'


def test_pending_pod_gives_the_schedulers_message_and_the_tainted_node():
    pending = rancher_pod(phase="Pending", node=None, conditions=[condition("PodScheduled", "False", SCHEDULER_MESSAGE)])
    nodes = [node("k3s-control"), node("k3s-worker-1", ready=False, taints=UNREACHABLE)]
    assert status([deployment(False), pending], [helmchart(), job()], nodes, "")["problem"] == (
        f"pod rancher-7d9f-abcde Pending: {SCHEDULER_MESSAGE}; nodes: k3s-worker-1 NotReady tainted "
        "node.kubernetes.io/unreachable:NoSchedule, node.kubernetes.io/unreachable:NoExecute")


def test_node_line_without_taints_is_a_ready_node():
    assert status([], [], "k3s-worker-1\tTrue", "")["nodes"] == []


def test_many_tainted_nodes_stay_one_short_line():
    nodes = [node(f"k3s-worker-{index}", ready=False, taints=UNREACHABLE[:1]) for index in range(1000)]
    problem = status([], [], nodes, "")["problem"]
    assert problem.endswith("k3s-worker-2 NotReady tainted node.kubernetes.io/unreachable:NoSchedule, and 997 more")


def test_image_pull_failure_is_named():
    pulling = rancher_pod(phase="Pending", conditions=[condition("PodScheduled", "True")],
                          waiting={"reason": "ImagePullBackOff", "message": "Back-off pulling image \"rancher/rancher:v2.9.3\""})
    assert status([deployment(False), pulling], [helmchart(), job()], HEALTHY_NODES, "")["problem"] == (
        'pod rancher-7d9f-abcde ImagePullBackOff on k3s-worker-1: Back-off pulling image "rancher/rancher:v2.9.3"')


def test_pending_svclb_pod_is_reported_with_the_cause():
    pending_lb = svclb_pod(phase="Pending", node=None, conditions=[condition("PodScheduled", "False", SCHEDULER_MESSAGE)])
    result = status([deployment(False), rancher_pod()], [helmchart(), job(), pending_lb], HEALTHY_NODES, "")
    assert result["problem"] == ("Deployment cattle-system/rancher not Available (0/1 ready); "
                                 f"svclb-rancher-lb-1a2b3c4d-x7k2p Pending: {SCHEDULER_MESSAGE}")


def test_ping_failure_shows_curls_answer():
    result = status([deployment(), rancher_pod()], [helmchart(), job()], HEALTHY_NODES,
                    "curl: (7) Failed to connect to 10.43.0.15 port 443: Connection refused")
    assert result["problem"] == ("/ping via ClusterIP of cattle-system/rancher answered "
                                 "'curl: (7) Failed to connect to 10.43.0.15 port 443: Connection refused'")


def test_deployment_not_created_names_the_job():
    assert status([], [helmchart(), job()], HEALTHY_NODES, "")["problem"] == (
        "Deployment cattle-system/rancher not created yet (HelmChart job helm-install-rancher)")


def recorded(name: str) -> dict:
    """Output of the fact's command recorded from the k3s stand-in (curl replaced: no route there)."""
    return RancherStatus().process((FIXTURES / f"rancher_status_{name}.txt").read_text().splitlines())


def test_recorded_pending_pod_names_the_untolerated_taint():
    assert re.fullmatch(
        r"pod rancher-\w+-\w+ Pending: 0/1 nodes are available: 1 node\(s\) had untolerated taint "
        r"\{example.com/maintenance: true\}\. .*; nodes: standin-local Ready tainted example.com/maintenance:NoSchedule",
        recorded("pending")["problem"]) is not None


def test_recorded_failed_install_job_gives_the_job_message():
    assert recorded("job_failed")["problem"].startswith(
        'HelmChart job helm-install-rancher failed: chart "rancher-typo" not available in the air-gapped lab')
