"""Kubernetes objects shaped as the API returns them, and the sections ``facts.chart_status``'s command
prints from them, for diagnosis tests.

Example:
    lines = chart_output("rancher", workload=[deployment("rancher")], job=[helm_job("rancher")])
"""

from __future__ import annotations

import calendar
import json
import shlex
from typing import Any

Obj = dict[str, Any]
SCHEDULER_TAINTED = ("0/3 nodes are available: 3 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. "
                     "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
# kube-scheduler's NodePorts filter (pkg/scheduler/framework/plugins/nodeports): ErrReason
SCHEDULER_NO_PORTS = ("0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports. "
                      "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.")
# When the default complete install Job finished, and manifest mtimes (``stat -c %Y``) around it
JOB_COMPLETED = "2026-12-01T12:01:30Z"
WRITTEN_BEFORE = str(calendar.timegm((2026, 12, 1, 12, 0, 0)))
WRITTEN_AFTER = str(calendar.timegm((2026, 12, 1, 12, 5, 0)))


def condition(kind: str, status: str, message: str = "", reason: str = "") -> Obj:
    return {"type": kind, "status": status, "message": message, "reason": reason}


def pod(name: str, labels: Obj | None = None, phase: str = "Running", node: str | None = "k3s-worker-1",
        conditions: list | None = None, waiting: Obj | None = None, restarts: int = 0,
        created: str = "2026-12-01T12:00:00Z") -> Obj:
    ready = "True" if phase == "Running" and not waiting else "False"
    return {"kind": "Pod", "metadata": {"name": name, "labels": labels or {}, "creationTimestamp": created},
            "spec": {"nodeName": node},
            "status": {"phase": phase,
                       "conditions": conditions if conditions is not None else
                       [condition("PodScheduled", "True"), condition("Ready", ready)],
                       "containerStatuses": [{"restartCount": restarts,
                                              "state": {"waiting": waiting} if waiting else {"running": {}}}]}}


def unscheduled(name: str, message: str, labels: Obj | None = None) -> Obj:
    return pod(name, labels, phase="Pending", node=None,
               conditions=[condition("PodScheduled", "False", message, "Unschedulable")], waiting=None)


def deployment(name: str, available: bool = True, replicas: int = 1, generation: int = 1,
               observed: int | None = None, updated: int | None = None, unavailable: int | None = None) -> Obj:
    """A Deployment as the API returns it: zero counts omitted (omitempty); by default its spec is
    observed and rolled out (``observed``: the controller's observedGeneration, ``updated``: pods of the
    newest ReplicaSet, ``unavailable``: pods not yet available, the old ones still running included)."""
    counts = {"observedGeneration": generation if observed is None else observed, "replicas": replicas,
              "updatedReplicas": replicas if updated is None else updated,
              "readyReplicas": replicas if available else 0, "availableReplicas": replicas if available else 0,
              "unavailableReplicas": (0 if available else replicas) if unavailable is None else unavailable}
    return {"kind": "Deployment", "metadata": {"name": name, "generation": generation}, "spec": {"replicas": replicas},
            "status": {**{key: count for key, count in counts.items() if count},
                       "conditions": [condition("Available", "True" if available else "False")]}}


def helm_job(chart: str, failed: str | None = None, complete: bool = False,
             completed: str = JOB_COMPLETED) -> Obj:
    """The helm-controller's ``helm-install-<chart>`` Job; a complete one has its ``completionTime``."""
    conditions = [condition("Failed", "True", failed, "BackoffLimitExceeded")] if failed else []
    conditions += [condition("Complete", "True")] if complete else []
    finished = {"succeeded": 1, "completionTime": completed} if complete else {}
    return {"kind": "Job", "metadata": {"name": f"helm-install-{chart}"}, "status": {"conditions": conditions, **finished}}


def helm_pod(chart: str, suffix: str = "x7k2p", **kwargs: Any) -> Obj:
    return pod(f"helm-install-{chart}-{suffix}", {"helmcharts.helm.cattle.io/chart": chart}, **kwargs)


def svclb_pod(service: str, node: str | None = "k3s-worker-1", **kwargs: Any) -> Obj:
    return pod(f"svclb-{service}-1a2b3c4d-{(node or 'p')[-4:]}",
               {"svccontroller.k3s.cattle.io/svcname": service, "app": f"svclb-{service}-1a2b3c4d"}, node=node, **kwargs)


def node_line(name: str, ready: bool = True, taints: list | None = None) -> str:
    """What the nodes jsonpath prints: name, Ready status, taints JSON (nothing when there are none)."""
    return f"{name}\t{'True' if ready else 'Unknown'}\t{json.dumps(taints) if taints else ''}"


HEALTHY_NODES = [node_line("k3s-control"), node_line("k3s-worker-1"), node_line("k3s-worker-2")]
UNREACHABLE = [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
               {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]


def listed(objects: list[Obj] | str) -> str:
    return objects if isinstance(objects, str) else json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})


def chart_sections(chart: str, manifest: str = WRITTEN_BEFORE, workload: list[Obj] | str = (),
                   helmchart: Obj | None | str = None,
                   job: list[Obj] | str = (), helmlog: str = "", svclb: list[Obj] | str = (),
                   nodes: list[str] | str = tuple(HEALTHY_NODES)) -> dict[str, str]:
    """The sections as ``section_texts`` returns them; ``manifest``: the manifest's mtime as ``stat``
    prints it (by default before the Job completed); ``helmchart``: the HelmChart's status (None:
    absent, a string: kubectl's output as is)."""
    if isinstance(helmchart, str):
        chart_text = helmchart
    else:
        chart_text = "" if helmchart is None else f"{chart}\n{json.dumps(helmchart)}"
    return {"manifest": manifest, "workload": listed(list(workload) if not isinstance(workload, str) else workload),
            "helmchart": chart_text, "job": listed(list(job) if not isinstance(job, str) else job),
            "helmlog": helmlog, "svclb": listed(list(svclb) if not isinstance(svclb, str) else svclb),
            "nodes": nodes if isinstance(nodes, str) else "\n".join(nodes)}


def chart_output(chart: str, extra: dict[str, str] | None = None, **sections: Any) -> list[str]:
    """The command's output lines: each section after its ``### name`` marker."""
    texts = {**chart_sections(chart, **sections), **(extra or {})}
    return "\n".join(f"### {name}\n{text}" for name, text in texts.items()).splitlines()


def reads_of(command: str) -> list[Obj]:
    """The reads a ``facts.kube_reads`` command line asks for (its last word is the request JSON)."""
    return json.loads(shlex.split(command)[-1])["reads"]
