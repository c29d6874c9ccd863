"""The stand-in scheduler with the real kubectl: a Deployment with required pod anti-affinity on
kubernetes.io/hostname gets one pod per node, and the replica with no node left stays Pending with
kube-scheduler's FitError (interpodaffinity ErrReasonAntiAffinityRulesNotMatch, preemption summary)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from conftest import KUBECTL, Server, free_port, node_body, start_server, stop_server, wait_for
from k3s_standin import release

QUIET = ["--disable=traefik,coredns,metrics-server,local-storage"]
OTHER = "spread-other"
ANTI = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
    "labelSelector": {"matchLabels": {"app": "spread"}}, "topologyKey": "kubernetes.io/hostname"}]}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("spread"), free_port(), QUIET)
    yield running
    stop_server(running)


def kubectl(server: Server, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([KUBECTL, *args], env={**os.environ, "KUBECONFIG": str(server.kubeconfig)}, input=stdin,
                          capture_output=True, text=True, timeout=30, check=True)
    return done.stdout


def pods(server: Server) -> list[dict[str, Any]]:
    return json.loads(kubectl(server, "get", "pods", "-l", "app=spread", "-o", "json"))["items"]


@pytest.fixture(scope="module")
def spread(server: Server) -> list[dict[str, Any]]:
    """Three replicas over the server's node and one more (an API-only Node): two bound, one not."""
    core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig)))
    wait_for("the server's node", lambda: core.list_node().items, 60)
    core.create_node(node_body(OTHER, True))
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "spread", "namespace": "default"},
                  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "spread"}},
                           "template": {"metadata": {"labels": {"app": "spread"}},
                                        "spec": {"affinity": ANTI, "containers": [
                                            {"name": "pause", "image": release.PAUSE_IMAGE}]}}}}
    kubectl(server, "apply", "-f", "-", stdin=json.dumps(deployment))

    def settled() -> list[dict[str, Any]] | None:
        found = pods(server)
        unbound = [p for p in found if not p["spec"].get("nodeName")]
        failed = [c for p in unbound for c in p["status"].get("conditions") or [] if c["type"] == "PodScheduled"]
        return found if len(found) == 3 and len(unbound) == 1 and failed else None

    return wait_for("two pods bound, one refused", settled, 60)


def test_each_node_gets_one_replica(spread):
    bound = sorted(p["spec"]["nodeName"] for p in spread if p["spec"].get("nodeName"))
    assert len(bound) == 2 and len(set(bound)) == 2 and OTHER in bound


def test_the_replica_without_a_node_reports_the_schedulers_message(spread):
    pending = next(p for p in spread if not p["spec"].get("nodeName"))
    condition = next(c for c in pending["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    assert condition["message"] == ("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. "
                                    "preemption: 0/2 nodes are available: 2 No preemption victims found for "
                                    "incoming pod.")
