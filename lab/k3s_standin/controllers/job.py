"""Job controller (kubernetes/kubernetes pkg/controller/job/job_controller.go, v1.31): a batch/v1 Job
runs its pod template (`<job>-<5 chars>`, labels `batch.kubernetes.io/job-name`,
`batch.kubernetes.io/controller-uid` and their legacy forms, a controller ownerReference) until
`completions` (1) pods succeeded. Status keeps `active`, `ready`, `succeeded`, `failed`, `startTime`.
Failures count toward `backoffLimit` (default 6) as upstream: with restartPolicy OnFailure the
kubelet restarts the container in place and the restarts of the active pods count
(`pastBackoffLimitOnFailure`, reached at >= backoffLimit); with Never each failed pod counts and a new
pod follows after the pod-failure back-off (10 s doubling, at most 6 min). Ends with
SuccessCriteriaMet + Complete (CompletionsReached) or FailureTarget + Failed
(BackoffLimitExceeded, "Job has reached the specified backoff limit"), the interim condition first as
1.31's job controller writes them; a failed Job's active pods are deleted.

Example:
    Jobs(api).reconcile()
"""

from __future__ import annotations

import copy
import time
from typing import Any

from k3s_standin.client import Client, object_path, path
from k3s_standin.controllers import clock, conditions, events, log, names, scheduling
from k3s_standin.controllers.replicaset import pod_ready

Obj = dict[str, Any]

COMPONENT = "job-controller"
BACKOFF_BASE, BACKOFF_MAX = 10.0, 360.0
DEFAULT_BACKOFF_LIMIT = 6


def job_labels(job: Obj) -> dict[str, str]:
    meta = job["metadata"]
    return {"batch.kubernetes.io/controller-uid": meta["uid"], "batch.kubernetes.io/job-name": meta["name"],
            "controller-uid": meta["uid"], "job-name": meta["name"]}


def new_pod(job: Obj) -> Obj:
    template = copy.deepcopy(job["spec"]["template"])
    meta = template.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": f"{job['metadata']['name']}-", "namespace": job["metadata"]["namespace"],
                         "labels": dict(meta.get("labels") or {}, **job_labels(job)),
                         "annotations": meta.get("annotations") or {},
                         "ownerReferences": [names.owner_reference("batch/v1", "Job", job)]},
            "spec": template.get("spec") or {}}


def restarts(pods: list[Obj]) -> int:
    return sum(int(status.get("restartCount", 0)) for pod in pods
               for status in ((pod.get("status") or {}).get("containerStatuses") or [])
               + ((pod.get("status") or {}).get("initContainerStatuses") or []))


def finished(job: Obj) -> bool:
    return any(item.get("type") in ("Complete", "Failed") and item.get("status") == "True"
               for item in (job.get("status") or {}).get("conditions") or [])


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def past_backoff_limit(job: Obj, active: list[Obj], failed: int) -> bool:
    """`exceedsBackoffLimit || pastBackoffLimitOnFailure` of the job controller."""
    limit = int(job["spec"].get("backoffLimit", DEFAULT_BACKOFF_LIMIT))
    if failed > limit:
        return True
    if (job["spec"]["template"].get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarted = restarts([pod for pod in active if phase(pod) in ("Running", "Pending")])
    return restarted > 0 if limit == 0 else restarted >= limit


def end_status(status: Obj, outcome: str, now: str) -> None:
    """The interim condition, then the terminal one, as the 1.31 job controller adds them."""
    if outcome == "Complete":
        message = "Reached expected number of succeeded pods"
        conditions.set_condition(status, "SuccessCriteriaMet", "True", "CompletionsReached", message, now,
                                 update_stamp="lastProbeTime")
        conditions.set_condition(status, "Complete", "True", "CompletionsReached", message, now,
                                 update_stamp="lastProbeTime")
        status["completionTime"] = now
    else:
        message = "Job has reached the specified backoff limit"
        conditions.set_condition(status, "FailureTarget", "True", "BackoffLimitExceeded", message, now,
                                 update_stamp="lastProbeTime")
        conditions.set_condition(status, "Failed", "True", "BackoffLimitExceeded", message, now,
                                 update_stamp="lastProbeTime")


def delete_with_pods(api: Client, job: Obj) -> None:
    """Delete a Job and its pods, as the garbage collector's foreground deletion (helm-controller's
    jobPatcher deletes with propagationPolicy Foreground) would."""
    meta = job["metadata"]
    for pod in api.list(path("v1", "pods", meta["namespace"]),
                        labelSelector=f"batch.kubernetes.io/controller-uid={meta['uid']}"):
        api.delete(object_path("v1", "pods", pod))
    api.delete(object_path("batch/v1", "jobs", job))


class Jobs:
    def __init__(self, api: Client) -> None:
        self.api = api
        self.next_pod_at: dict[str, float] = {}

    def reconcile(self) -> None:
        pods = self.api.list(path("v1", "pods"))
        for job in self.api.list(path("batch/v1", "jobs")):
            if finished(job) or job["metadata"].get("deletionTimestamp") or job["spec"].get("suspend"):
                continue
            self.sync(job, [pod for pod in pods if names.controlled_by(pod, job)])

    def sync(self, job: Obj, owned: list[Obj]) -> None:
        meta = job["metadata"]
        previous = job.get("status") or {}
        active = [pod for pod in owned if scheduling.active(pod)]
        succeeded = sum(1 for pod in owned if phase(pod) == "Succeeded")
        failed = max(int(previous.get("failed", 0)), sum(1 for pod in owned if phase(pod) == "Failed"))
        now = clock.rfc3339()
        status: Obj = copy.deepcopy(previous)
        status.setdefault("startTime", now)
        outcome = ""
        if succeeded >= int(job["spec"].get("completions", 1)):
            outcome = "Complete"
        elif past_backoff_limit(job, active, failed):
            outcome = "Failed"
            for pod in active:
                self.api.delete(object_path("v1", "pods", pod))
            failed += len(active)
            active = []
        elif not active and self.backoff_over(job, failed):
            pod = self.api.create(path("v1", "pods", meta["namespace"]), new_pod(job))
            active = [pod]
            events.record(self.api, "Job", dict(job, apiVersion="batch/v1"), "Normal", "SuccessfulCreate",
                          f"Created pod: {pod['metadata']['name']}", COMPONENT)
            log.info(f"Job {meta['namespace']}/{meta['name']} created pod {pod['metadata']['name']}")
        status.update(active=len(active), ready=sum(1 for pod in active if pod_ready(pod)),
                      succeeded=succeeded, failed=failed, terminating=0,
                      uncountedTerminatedPods=status.get("uncountedTerminatedPods") or {})
        for key in ("active", "succeeded", "failed"):
            if not status[key]:
                status.pop(key)
        if outcome:
            end_status(status, outcome, now)
            reason, message = (("Completed", "Job completed") if outcome == "Complete" else
                               ("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
            events.record(self.api, "Job", dict(job, apiVersion="batch/v1"),
                          "Normal" if outcome == "Complete" else "Warning", reason, message, COMPONENT)
            log.info(f"Job {meta['namespace']}/{meta['name']}: {message}")
        if status != previous:
            self.api.mutate(object_path("batch/v1", "jobs", job, "status"),
                            lambda obj: obj.update(status=status) is None)

    def backoff_over(self, job: Obj, failed: int) -> bool:
        """A replacement for a failed pod waits for the pod-failure back-off (restartPolicy Never)."""
        if not failed:
            return True
        uid = job["metadata"]["uid"]
        wait = min(BACKOFF_BASE * 2 ** (failed - 1), BACKOFF_MAX)
        due = self.next_pod_at.setdefault(f"{uid}/{failed}", time.monotonic() + wait)
        return time.monotonic() >= due
