"""Rancher takes a while to start: its /healthz and /ping answer 503 until the start-up time has
passed (2 s in these tests, $K3S_STANDIN_RANCHER_STARTUP_SECONDS), and the pod is Ready only after,
as the chart's startupProbe/readinessProbe see it."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import kubernetes

from conftest import free_port, wait_for

NODE = "standin-conformance"


def healthz(port: int) -> int | str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError as error:
        return type(error).__name__


def test_rancher_is_ready_only_after_start_up(core_v1: kubernetes.client.CoreV1Api) -> None:
    http, https = free_port(), free_port()
    core_v1.create_namespaced_pod("default", {"metadata": {"name": "rancher-start"}, "spec": {
        "nodeName": NODE, "containers": [{"name": "rancher", "image": "rancher/rancher:v2.10.1", "args": [
            f"--http-listen-port={http}", f"--https-listen-port={https}"]}]}})

    def status() -> kubernetes.client.V1PodStatus:
        return core_v1.read_namespaced_pod("rancher-start", "default").status

    wait_for("the container to run", lambda: (s := status().container_statuses) and s[0].state.running)
    early = status()
    answers = [healthz(http)]
    assert answers[0] == 503 and not early.container_statuses[0].ready
    assert {c.type: c.status for c in early.conditions}["Ready"] == "False"
    wait_for("Rancher to answer 200", lambda: healthz(http) == 200, timeout=10)
    wait_for("the pod to be Ready", lambda: {c.type: c.status for c in status().conditions}["Ready"] == "True",
             timeout=10)
    started = status().container_statuses[0].state.running.started_at
    assert time.time() - started.timestamp() >= 2
    core_v1.delete_namespaced_pod("rancher-start", "default")
