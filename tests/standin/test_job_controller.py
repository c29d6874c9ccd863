"""The stand-in's Job controller against a local `k3s server`: a Job's pod from its template (name,
labels, owner), and the end conditions with the job controller's reasons. The pods are bound to a
node created through the API, so this test writes their status as that node's kubelet would."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest

import conftest

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def batch(api_client: kubernetes.client.ApiClient) -> kubernetes.client.BatchV1Api:
    return kubernetes.client.BatchV1Api(api_client)


def make_job(batch: kubernetes.client.BatchV1Api, node: str, restart_policy: str, backoff_limit: int) -> str:
    name = f"job-{uuid.uuid4().hex[:6]}"
    batch.create_namespaced_job("default", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"backoffLimit": backoff_limit, "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"restartPolicy": restart_policy, "nodeSelector": {"kubernetes.io/hostname": node},
                     "containers": [{"name": "work", "image": "rancher/mirrored-library-busybox:1.36.1"}]}}}})
    return name


def job_pods(core: kubernetes.client.CoreV1Api, name: str) -> list[Any]:
    return core.list_namespaced_pod("default", label_selector=f"batch.kubernetes.io/job-name={name}").items


def kubelet_reports(core: kubernetes.client.CoreV1Api, pod: Any, phase: str, restarts: int, exit_code: int) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    state = ({"terminated": {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                             "startedAt": now, "finishedAt": now}} if phase != "Running" else {"running": {"startedAt": now}})
    core.patch_namespaced_pod_status(pod.metadata.name, "default", {"status": {
        "phase": phase, "containerStatuses": [{"name": "work", "image": "busybox", "imageID": "", "ready": False,
                                               "restartCount": restarts, "state": state}]}})


def condition(batch: kubernetes.client.BatchV1Api, name: str, kind: str) -> Callable[[], Any]:
    def check() -> Any:
        status = batch.read_namespaced_job(name, "default").status
        return next((c for c in status.conditions or [] if c.type == kind and c.status == "True"), None)
    return check


def test_job_pod_comes_from_the_template(make_node: Callable[..., str], batch: kubernetes.client.BatchV1Api,
                                        core_v1: kubernetes.client.CoreV1Api) -> None:
    name = make_job(batch, make_node(), "OnFailure", 3)
    pod = conftest.wait_for("the Job's pod", lambda: job_pods(core_v1, name))[0]
    job = batch.read_namespaced_job(name, "default")
    assert pod.metadata.generate_name == f"{name}-"
    assert pod.metadata.labels["batch.kubernetes.io/controller-uid"] == job.metadata.uid
    assert (pod.metadata.owner_references[0].kind, pod.metadata.owner_references[0].controller) == ("Job", True)
    conftest.wait_for("status.active", lambda: batch.read_namespaced_job(name, "default").status.active == 1)


def test_restarts_under_on_failure_count_toward_the_backoff_limit(
        make_node: Callable[..., str], batch: kubernetes.client.BatchV1Api, core_v1: kubernetes.client.CoreV1Api) -> None:
    name = make_job(batch, make_node(), "OnFailure", 2)
    pod = conftest.wait_for("the Job's pod", lambda: job_pods(core_v1, name))[0]
    kubelet_reports(core_v1, pod, "Running", 1, 1)
    time.sleep(2)
    assert condition(batch, name, "Failed")() is None
    kubelet_reports(core_v1, pod, "Running", 2, 1)
    failed = conftest.wait_for("the Job to fail", condition(batch, name, "Failed"))
    assert (failed.reason, failed.message) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert condition(batch, name, "FailureTarget")() is not None


def test_a_succeeded_pod_completes_the_job(make_node: Callable[..., str], batch: kubernetes.client.BatchV1Api,
                                          core_v1: kubernetes.client.CoreV1Api) -> None:
    name = make_job(batch, make_node(), "OnFailure", 3)
    pod = conftest.wait_for("the Job's pod", lambda: job_pods(core_v1, name))[0]
    kubelet_reports(core_v1, pod, "Succeeded", 0, 0)
    complete = conftest.wait_for("the Job to complete", condition(batch, name, "Complete"))
    status = batch.read_namespaced_job(name, "default").status
    assert (complete.reason, status.succeeded, status.active) == ("CompletionsReached", 1, None)
    assert len(job_pods(core_v1, name)) == 1
