"""The real `kubectl drain` against the stand-in: cordon, then policy/v1 evictions that a
PodDisruptionBudget refuses with 429 (kubectl retries every 5 s) until the budget allows them, then
the pods are deleted gracefully and drain waits for them to go."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from conftest import KUBECTL, Server, free_port, start_server, stop_server, wait_for
from k3s_standin import release

NODE = "standin-conformance"
QUIET = ["--disable=traefik,coredns,metrics-server,local-storage"]
DENIED = "Cannot evict pod as it would violate the pod's disruption budget."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("drain"), free_port(), QUIET)
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def clients(server: Server) -> dict[str, Any]:
    api = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
    return {"core": kubernetes.client.CoreV1Api(api), "apps": kubernetes.client.AppsV1Api(api),
            "policy": kubernetes.client.PolicyV1Api(api)}


def ready_web_pods(core: kubernetes.client.CoreV1Api) -> list[Any]:
    pods = core.list_namespaced_pod("default", label_selector="app=web").items
    return [p for p in pods if p.spec.node_name == NODE and not p.metadata.deletion_timestamp
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]


def budget(policy: kubernetes.client.PolicyV1Api) -> Any:
    return policy.read_namespaced_pod_disruption_budget("web", "default")


@pytest.fixture(scope="module")
def guarded(clients: dict[str, Any]) -> dict[str, Any]:
    """Two Ready `web` pods on the node under a budget of minAvailable 2: no disruption allowed."""
    clients["apps"].create_namespaced_deployment("default", {
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": release.PAUSE_IMAGE}]}}}})
    wait_for("two Ready web pods", lambda: len(ready_web_pods(clients["core"])) == 2, 60)
    clients["policy"].create_namespaced_pod_disruption_budget("default", {
        "metadata": {"name": "web"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
    wait_for("the budget's status", lambda: budget(clients["policy"]).status
             and budget(clients["policy"]).status.observed_generation == 1
             and budget(clients["policy"]).status.current_healthy == 2)
    return clients


def test_budget_status_is_computed(guarded):
    status = budget(guarded["policy"]).status
    assert (status.current_healthy, status.desired_healthy, status.expected_pods, status.disruptions_allowed) == \
        (2, 2, 2, 0)
    [condition] = status.conditions
    assert (condition.type, condition.status, condition.reason) == ("DisruptionAllowed", "False", "InsufficientPods")


def test_eviction_refused_with_429_and_the_budget_as_cause(guarded):
    name = ready_web_pods(guarded["core"])[0].metadata.name
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        guarded["core"].create_namespaced_pod_eviction(name, "default", {"metadata": {"name": name}})
    assert refused.value.status == 429
    assert "Retry-After" not in (refused.value.headers or {})
    body = json.loads(refused.value.body)
    assert (body["reason"], body["message"], body["code"]) == ("TooManyRequests", DENIED, 429)
    assert body["details"]["causes"] == [{"reason": "DisruptionBudget",
                                          "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}]
    assert len(ready_web_pods(guarded["core"])) == 2


def test_drain_waits_for_the_budget_then_evicts(guarded, server):
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
    guarded_pods = {p.metadata.name for p in ready_web_pods(guarded["core"])}
    drain = subprocess.Popen([KUBECTL, "drain", NODE, "--ignore-daemonsets", "--delete-emptydir-data",
                              "--timeout=90s"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        node = guarded["core"].read_node
        wait_for("the node to be cordoned", lambda: node(NODE).spec.unschedulable)
        time.sleep(7)   # at least one 5 s retry of kubectl's
        assert drain.poll() is None
        assert len(ready_web_pods(guarded["core"])) == 2
        guarded["policy"].patch_namespaced_pod_disruption_budget("web", "default", {"spec": {"minAvailable": 0}})
        out, err = drain.communicate(timeout=100)
    finally:
        if drain.poll() is None:
            drain.kill()
        subprocess.run([KUBECTL, "uncordon", NODE], env=env, capture_output=True, check=False)
    assert drain.returncode == 0, err
    assert f"(will retry after 5s): {DENIED}" in err
    assert f"node/{NODE} drained" in out
    assert all(f"pod/{name} evicted" in out for name in guarded_pods), out
    left = {p.metadata.name for p in guarded["core"].list_namespaced_pod("default", label_selector="app=web").items}
    assert not guarded_pods & left


def test_allowed_eviction_is_counted_against_the_budget(guarded):
    """After drain (minAvailable 0) the pods came back once the node was uncordoned; a budget of
    maxUnavailable 1 allows exactly one eviction, marked in disruptedPods."""
    wait_for("two Ready web pods again", lambda: len(ready_web_pods(guarded["core"])) == 2, 60)
    guarded["policy"].patch_namespaced_pod_disruption_budget("web", "default", {
        "spec": {"minAvailable": None, "maxUnavailable": "50%"}})
    wait_for("one disruption allowed", lambda: budget(guarded["policy"]).status.observed_generation == 3
             and budget(guarded["policy"]).status.disruptions_allowed == 1)
    first, second = (p.metadata.name for p in ready_web_pods(guarded["core"]))
    guarded["core"].create_namespaced_pod_eviction(first, "default", {"metadata": {"name": first}})
    status = budget(guarded["policy"]).status
    assert status.disruptions_allowed == 0 and first in (status.disrupted_pods or {})
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        guarded["core"].create_namespaced_pod_eviction(second, "default", {"metadata": {"name": second}})
    assert refused.value.status == 429
    evicted = guarded["core"].read_namespaced_pod(first, "default") if any(
        p.metadata.name == first for p in guarded["core"].list_namespaced_pod("default").items) else None
    assert evicted is None or evicted.metadata.deletion_timestamp
