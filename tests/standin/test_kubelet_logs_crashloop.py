"""A run-to-completion container (the helm job's) that exits non-zero under restartPolicy OnFailure:
first restart at once, then CrashLoopBackOff with the kubelet's message, 10 s doubling to 5m0s,
lastState.terminated kept, the pod Running; exit 0 completes the pod."""

from __future__ import annotations

from k3s_standin.node.pod_status import pod_status
from k3s_standin.node.runtime import PodRuntime, go_seconds

POD = {"metadata": {"name": "helm-install-rancher-x", "namespace": "kube-system", "uid": "u1"},
       "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "helm", "image": "rancher/klipper-helm:v0.9.3"}]}}


class Exits:
    """A container that has exited with the next code of `codes`."""

    def __init__(self, code: int) -> None:
        self.exit_code = code

    def start(self) -> None:
        return

    def stop(self) -> None:
        return


def runtime_with(codes: list[int]) -> PodRuntime:
    runtime = PodRuntime(POD, "10.42.0.9", lambda *_: Exits(codes.pop(0)))
    runtime.start("t0")
    return runtime


def container(runtime: PodRuntime) -> dict:
    return pod_status(POD, runtime, "10.213.0.101", "now")["containerStatuses"][0]


def test_failing_job_backs_off_like_the_kubelet() -> None:
    runtime = runtime_with([1, 1, 1, 1])
    runtime.tick("t1")  # the first failure restarts at once
    assert container(runtime)["restartCount"] == 1
    assert container(runtime)["lastState"]["terminated"]["reason"] == "Error"
    runtime.tick("t2")
    status = container(runtime)
    assert status["state"]["waiting"] == {
        "reason": "CrashLoopBackOff",
        "message": "back-off 10s restarting failed container=helm pod=helm-install-rancher-x_kube-system(u1)"}
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert pod_status(POD, runtime, "10.213.0.101", "now")["phase"] == "Running"
    runtime.containers[0].backoff_since -= 10
    runtime.tick("t3")
    runtime.tick("t4")
    assert container(runtime)["restartCount"] == 2
    assert "back-off 20s" in container(runtime)["state"]["waiting"]["message"]


def test_back_off_durations_print_as_go_does() -> None:
    assert [go_seconds(s) for s in (10, 80, 300)] == ["10s", "1m20s", "5m0s"]


def test_succeeding_job_completes_the_pod() -> None:
    runtime = runtime_with([0])
    runtime.tick("t1")
    status = pod_status(POD, runtime, "10.213.0.101", "now")
    assert status["phase"] == "Succeeded"
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
