"""The pod status a kubelet posts: phase, conditions, IPs and containerStatuses from the runtime.

Example:
    status = pod_status(pod, runtime, "10.213.0.111", "2025-11-24T16:05:01Z")
"""

from __future__ import annotations

from typing import Any

from k3s_standin.node.runtime import PodRuntime, fake_id

Obj = dict[str, Any]


def container_status(state: Any, restart_count: int, backoff: bool) -> Obj:
    status: Obj = {"name": state.name, "image": state.image, "restartCount": restart_count, "lastState": {}}
    if state.error:
        pull = "pull image" in state.error
        reason = ("ImagePullBackOff" if backoff else "ErrImagePull") if pull else "CreateContainerError"
        message = f'Back-off pulling image "{state.image}": ErrImagePull: {state.error}' \
            if pull and backoff else state.error
        status.update(ready=False, started=False, imageID="", state={"waiting": {"reason": reason, "message": message}})
    elif state.completed:
        status.update(ready=False, started=False, imageID=fake_id("sha256:", state.image),
                      containerID=state.container_id,
                      state={"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": state.started_at,
                                            "finishedAt": state.started_at, "containerID": state.container_id}})
    else:
        status.update(ready=True, started=True, imageID=fake_id("sha256:", state.image),
                      containerID=state.container_id, state={"running": {"startedAt": state.started_at}})
    return status


def pod_status(pod: Obj, runtime: PodRuntime, host_ip: str, now: str) -> Obj:
    """Status fields the kubelet owns; transition times are carried over when unchanged."""
    statuses = [container_status(c, runtime.restart_count, runtime.pull_backoff()) for c in runtime.containers]
    all_done = bool(statuses) and all("terminated" in s["state"] for s in statuses)
    unready = [s["name"] for s in statuses if not s["ready"]]
    phase = "Succeeded" if all_done else "Running" if not any("waiting" in s["state"] for s in statuses) \
        else "Pending"
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
