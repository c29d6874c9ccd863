"""The pod status a kubelet posts: phase, conditions, IPs and containerStatuses from the runtime.

Upstream: kubernetes/kubernetes pkg/kubelet/kubelet_pods.go (`getPhase`, `convertToAPIContainerStatuses`),
pkg/kubelet/status/generate.go (Ready/ContainersReady "containers with unready status: [...]").

Example:
    status = pod_status(pod, runtime, "10.213.0.111", "2025-11-24T16:05:01Z")
"""

from __future__ import annotations

import time
from typing import Any

from k3s_standin.node.runtime import ContainerState, PodRuntime, fake_id

Obj = dict[str, Any]


def container_status(state: ContainerState, restart_count: int, backoff: bool, now: float) -> Obj:
    """One containerStatuses entry: waiting (pull failure, crash-loop back-off), terminated or running;
    a running container is ready and started once its start-up time has passed (its probes)."""
    status: Obj = {"name": state.name, "image": state.image, "restartCount": restart_count + state.restarts,
                   "lastState": {"terminated": state.last_terminated} if state.last_terminated else {}}
    if state.error:
        pull = "pull image" in state.error
        reason = ("ImagePullBackOff" if backoff else "ErrImagePull") if pull else "CreateContainerError"
        message = f'Back-off pulling image "{state.image}": ErrImagePull: {state.error}' \
            if pull and backoff else state.error
        status.update(ready=False, started=False, imageID="", state={"waiting": {"reason": reason, "message": message}})
        return status
    status.update(imageID=fake_id("sha256:", state.image), containerID=state.container_id)
    if state.exit_code is not None and state.waiting_message:
        status.update(ready=False, started=False, lastState={"terminated": state.terminated()},
                      state={"waiting": {"reason": "CrashLoopBackOff", "message": state.waiting_message}})
    elif state.exit_code is not None:
        status.update(ready=False, started=False, state={"terminated": state.terminated()})
    else:
        up = now >= state.ready_at
        status.update(ready=up, started=up, state={"running": {"startedAt": state.started_at}})
    return status


def phase_of(statuses: list[Obj]) -> str:
    """kubelet's getPhase: waiting without a previous run is Pending; all terminated is Succeeded or
    Failed; a container in back-off after a run counts as stopped, so the pod stays Running."""
    states = [s["state"] for s in statuses]
    if any("waiting" in s and not status["lastState"] for s, status in zip(states, statuses)):
        return "Pending"
    if states and all("terminated" in s for s in states):
        return "Succeeded" if all(s["terminated"]["exitCode"] == 0 for s in states) else "Failed"
    return "Running"


def pod_status(pod: Obj, runtime: PodRuntime, host_ip: str, now: str) -> Obj:
    """Status fields the kubelet owns; transition times are carried over when unchanged."""
    statuses = [container_status(c, runtime.restart_count, runtime.pull_backoff(), time.time())
                for c in runtime.containers]
    all_done = bool(statuses) and all("terminated" in s["state"] for s in statuses)
    unready = [s["name"] for s in statuses if not s["ready"]]
    phase = phase_of(statuses)
    ready = "True" if not unready else "False"
    reason = "" if not unready else ("PodCompleted" if all_done else "ContainersNotReady")
    message = "" if not unready or all_done else f"containers with unready status: [{' '.join(unready)}]"
    old = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}

    def condition(kind: str, value: str, why: str = "", text: str = "") -> Obj:
        previous = old.get(kind) or {}
        item = {"type": kind, "status": value, "lastProbeTime": None,
                "lastTransitionTime": previous.get("lastTransitionTime") if previous.get("status") == value
                else now}
        if why:
            item["reason"] = why
        if text:
            item["message"] = text
        return item

    status = dict(pod.get("status") or {})
    status.update(
        phase=phase, hostIP=host_ip, hostIPs=[{"ip": host_ip}], podIP=runtime.pod_ip,
        podIPs=[{"ip": runtime.pod_ip}], startTime=status.get("startTime") or now,
        containerStatuses=statuses,
        conditions=[condition("PodReadyToStartContainers", "True" if not all_done else "False"),
                    condition("Initialized", "True"),
                    condition("Ready", ready, reason, message),
                    condition("ContainersReady", ready, reason, message),
                    condition("PodScheduled", "True")])
    return status
