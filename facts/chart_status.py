"""
A chart installed by k3s's helm-controller, as seen from a k3s control node, and why it is not
running yet, in one command: the HelmChart's status, its ``helm-install-<chart>`` Job and pods with the
last lines of the newest pod's log (the real helm-controller retries a failing install for ever,
backoffLimit 1000, and says why only there), the Deployments and pods in the chart's namespace,
every ServiceLB pod (a Pending one says which host port is taken) and the nodes, all read over one
API connection (``facts.kube_reads``).

Used for Rancher (``facts.rancher``) and cert-manager (``tasks.cert_manager``). Only the HelmChart's
name and status are printed: its spec may hold secrets.

Example:
    status = chart_status(section_texts(output), "rancher", ["rancher"])
    status["problem"]   # "helm-install-rancher: Error: looks like ... cannot be reached ..."
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from facts import kube_reads
from facts.names import KUBE_API
from facts.sections import split_sections

Obj = dict[str, Any]

CHART_LABEL = "helmcharts.helm.cattle.io/chart"
SVCLB_LABEL = "svccontroller.k3s.cattle.io/svcname"
MARK = kube_reads.MARK
WAITING_FOR_LOG = ("ContainerCreating", "PodInitializing")


def chart_reads(chart: str, namespace: str, manifest: str) -> list[Obj]:
    """The chart's sections as ``facts.kube_reads`` reads: every one over one API connection.
    ``manifest``'s modification time tells which install job is the current one.

    Example:
        kube_reads.command(KUBE_API, chart_reads("rancher", "cattle-system", manifest_path("rancher")))
    """
    system_pods = "/api/v1/namespaces/kube-system/pods"
    helm_pods = {"paths": [system_pods], "selector": f"{CHART_LABEL}={chart}"}
    return [
        {"section": "manifest", "read": "mtime", "path": manifest},
        {"section": "workload", "read": "list",
         "paths": [f"/apis/apps/v1/namespaces/{namespace}/deployments", f"/api/v1/namespaces/{namespace}/pods"]},
        # name and status only: the spec may hold secrets (values, valuesContent)
        {"section": "helmchart", "read": "status", "path": f"/apis/helm.cattle.io/v1/namespaces/kube-system/helmcharts/{chart}"},
        {"section": "job", "read": "list", **helm_pods, "paths": ["/apis/batch/v1/namespaces/kube-system/jobs", system_pods]},
        {"section": "helmlog", "read": "log", **helm_pods, "tail": 20},
        {"section": "svclb", "read": "list", "paths": [system_pods], "selector": SVCLB_LABEL},
        {"section": "nodes", "read": "nodes"},
    ]


def chart_command(chart: str, namespace: str, manifest: str) -> str:
    """The command that prints the chart's sections (``chart_reads``)."""
    return kube_reads.command(KUBE_API, chart_reads(chart, namespace, manifest))


def section_texts(lines: list[str]) -> dict[str, str]:
    """Section name -> its text, from the command's marked output."""
    return {
        marker[len(MARK):].strip(): "\n".join(body).strip()
        for marker, body in split_sections(lines, MARK).items()
        if marker
    }


def last_line(text: str) -> str:
    """The API's (or helm's) summary of what went wrong is its last line."""
    return ([line for line in text.splitlines() if line.strip()] or ["no output"])[-1].strip()


def last_error(text: str) -> str:
    """helm's (or kubectl's) last ``Error:``/``error:`` with the lines it continues on, as one line:
    a missing kind is ``... no matches for kind "Issuer" in version "cert-manager.io/v1"`` then
    ``ensure CRDs are installed first`` (helm pkg/kube), whose last line alone names nothing.
    Without an error line, the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    start = next((index for index in range(len(lines) - 1, -1, -1) if lines[index].lower().startswith("error")), None)
    return " ".join(lines[start:]) if start is not None else last_line(text)


def items(text: str) -> tuple[list[Obj], str | None]:
    """(objects, error): the List, or the error line printed instead."""
    try:
        return json.loads(text).get("items") or [], None
    except ValueError:
        return [], last_line(text)


def helmchart(text: str, chart: str) -> tuple[Obj | None, str | None]:
    """(HelmChart with its status, error) from the ``name`` + status JSON lines."""
    name, _, status = text.partition("\n")
    if not name:
        return None, None
    if name != chart:
        return None, last_line(text)
    try:
        return {"metadata": {"name": name}, "status": json.loads(status) if status.strip() else {}}, None
    except ValueError:
        return None, last_line(status)


def condition(obj: Obj, kind: str) -> Obj:
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found.get("type") == kind:
            return found
    return {}


def pod_problem(pod: Obj) -> str | None:
    """Why a pod does not serve: unscheduled (scheduler's message), image pull, back-off, not ready."""
    status = pod.get("status") or {}
    node = (pod.get("spec") or {}).get("nodeName")
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return f"Terminating on {node}"
    scheduled = condition(pod, "PodScheduled")
    if scheduled.get("status") == "False":
        return f"Pending: {scheduled.get('message') or scheduled.get('reason') or 'not scheduled'}"
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            return f"{waiting.get('reason')} on {node}: {waiting.get('message') or ''}".rstrip(": ")
    if status.get("phase") == "Succeeded":
        return None
    if status.get("phase") != "Running":
        return f"{status.get('phase') or 'Unknown'} on {node}"
    if condition(pod, "Ready").get("status") != "True":
        return f"Running on {node}, not Ready"
    return None


def node_problem(name: str, ready: bool, taints: list[Obj]) -> str | None:
    """A node that keeps pods away: NotReady, or NoSchedule/NoExecute taints."""
    keeping_away = [
        f"{taint['key']}:{taint['effect']}" for taint in taints if taint.get("effect") in ("NoSchedule", "NoExecute")
    ]
    if ready and not keeping_away:
        return None
    state = "Ready" if ready else "NotReady"
    return f"{name} {state}" + (f" tainted {', '.join(keeping_away)}" if keeping_away else "")


def node_rows(text: str) -> list[tuple[str, str, str]] | None:
    """``(name, Ready status, taints JSON)`` per line of the ``nodes`` read (``kube_reads.read_nodes``);
    ``None`` when a line is not one (the API's error in its place).

    Example:
        node_rows("a\tTrue\t\nb\tUnknown\t[]") == [("a", "True", ""), ("b", "Unknown", "[]")]
    """
    rows = []
    for line in filter(None, text.splitlines()):
        # a node without taints ends in a tab that output handling may strip
        fields = line.split("\t", 2)
        if len(fields) < 2:
            return None
        name, ready, taints = (fields + [""])[:3]
        rows.append((name, ready, taints))
    return rows


def nodes(text: str) -> tuple[list[str], str | None]:
    """(problems, error) from the ``nodes`` read's lines."""
    rows = node_rows(text)
    if rows is None:
        return [], last_line(text)
    problems = [node_problem(name, ready == "True", json.loads(taints) if taints else []) for name, ready, taints in rows]
    return [problem for problem in problems if problem], None


def first(found: list[str], shown: int = 3) -> str:
    """The first ``shown`` items, and how many more: one line even with a thousand nodes."""
    more = f", and {len(found) - shown} more" if len(found) > shown else ""
    return ", ".join(found[:shown]) + more


def _created(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("creationTimestamp") or "")


def _epoch(stamp: str | None) -> float | None:
    try:
        return datetime.strptime(stamp or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def installed_since(objects: list[Obj], status: Obj, manifest_mtime: str) -> bool:
    """Whether the chart's install Job completed after its manifest was last written: k3s applies a
    changed manifest and the helm-controller re-runs the Job, and until then the old release (and
    its old pods) still answers. The manifest holds only the HelmChart, so every write changes its spec.
    A second of slack absorbs the two timestamps' rounding."""
    jobs = [obj for obj in objects if obj.get("kind") == "Job"]
    job = next((j for j in jobs if j["metadata"]["name"] == status.get("jobName")), jobs[-1] if jobs else None)
    if job is None or condition(job, "Complete").get("status") != "True":
        return False
    written, completed = float(manifest_mtime) if manifest_mtime.strip().isdigit() else None, \
        _epoch((job.get("status") or {}).get("completionTime"))
    return written is None or (completed is not None and completed >= written - 1)


def rolled_out(deployment: Obj | None) -> bool:
    """Available, and its newest spec rolled out (what ``kubectl rollout status`` waits for)."""
    if deployment is None or condition(deployment, "Available").get("status") != "True":
        return False
    status, wanted = deployment.get("status") or {}, (deployment.get("spec") or {}).get("replicas", 1)
    return (int(status.get("observedGeneration") or 0) >= int((deployment.get("metadata") or {}).get("generation") or 0)
            and int(status.get("updatedReplicas") or 0) >= wanted and not status.get("unavailableReplicas"))


def helm_problem(chart: str, objects: list[Obj], log: str, status: Obj) -> str | None:
    """What the chart's install job says: Failed, its pod in trouble, or the pod's last log line
    after an unsuccessful run. None while it runs or once it succeeded."""
    jobs = [obj for obj in objects if obj.get("kind") == "Job"]
    pods = sorted((obj for obj in objects if obj.get("kind") == "Pod"), key=_created)
    job = next((j for j in jobs if j["metadata"]["name"] == status.get("jobName")), jobs[-1] if jobs else None)
    for obj in (job or {}, {"status": status}):
        failed = condition(obj, "Failed")
        if failed.get("status") == "True" and failed.get("message"):
            return f"helm-install-{chart} failed: {failed['message']}"
    if job is not None and condition(job, "Complete").get("status") == "True":
        return None
    pod = pods[-1] if pods else None
    if pod is None:
        return None
    problem = pod_problem(pod)
    restarts = sum(int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])
    said = last_error(log) if log.strip() and "waiting to start" not in log else ""
    if problem and problem.startswith(("ErrImagePull", "ImagePullBackOff", "Pending")):
        return f"helm-install-{chart} pod {pod['metadata']['name']} {problem}"
    if said and (restarts or (problem and problem.startswith(("CrashLoopBackOff", "Error")))):
        return f"helm-install-{chart} (restarted {restarts}x): {said}"
    return None


def chart_status(sections: dict[str, str], chart: str, deployments: list[str]) -> dict[str, Any]:
    """The chart's install and workload status; ``problem`` is one line or None once every one of
    ``deployments`` is Available."""
    workload, workload_error = items(sections.get("workload", ""))
    job_objects, job_error = items(sections.get("job", ""))
    svclb, svclb_error = items(sections.get("svclb", ""))
    found_chart, chart_error = helmchart(sections.get("helmchart", ""), chart)
    node_problems, nodes_error = nodes(sections.get("nodes", ""))
    chart_state = (found_chart or {}).get("status") or {}
    found = {obj["metadata"]["name"]: obj for obj in workload if obj.get("kind") == "Deployment"}
    pods = [obj for obj in workload if obj.get("kind") == "Pod"]
    status: dict[str, Any] = {
        "helmchart": found_chart is not None,
        "job": chart_state.get("jobName"),
        "helm": helm_problem(chart, job_objects, sections.get("helmlog", ""), chart_state),
        "deployments": {name: found.get(name) for name in deployments},
        "installed": installed_since(job_objects, chart_state, sections.get("manifest", "")),
        "available": all(rolled_out(found.get(name)) for name in deployments),
        "pods": {p["metadata"]["name"]: pod_problem(p) for p in pods},
        "svclb": {p["metadata"]["name"]: pod_problem(p) for p in svclb},
        "nodes": node_problems,
        "error": workload_error or chart_error or job_error or svclb_error or nodes_error,
    }
    status["problem"] = None if status["installed"] and status["available"] and not status["error"] \
        else diagnose(status, chart)
    return status


def diagnose(status: dict[str, Any], chart: str) -> str:
    """One line: the first thing in the chart's way, then the nodes and svclb pods in trouble."""
    missing = [name for name, deployment in status["deployments"].items() if deployment is None]
    unavailable = [name for name, deployment in status["deployments"].items()
                   if deployment is not None and not rolled_out(deployment)]
    troubled = [f"pod {name} {why}" for name, why in status["pods"].items() if why]
    if status["error"]:
        cause = status["error"]
    elif not status["helmchart"]:
        cause = f"HelmChart kube-system/{chart} not found (manifest not applied yet)"
    elif status["helm"]:
        cause = status["helm"]
    elif not status["installed"]:
        cause = (f"helm-install-{chart} has not completed since the manifest was written "
                 f"(HelmChart job {status['job'] or 'not started'})")
    elif missing:
        cause = f"Deployment {', '.join(missing)} not created yet (HelmChart job {status['job'] or 'not started'})"
    elif troubled:
        cause = "; ".join(troubled[:3])
    elif unavailable:
        ready = [f"{name} {(status['deployments'][name].get('status') or {}).get('readyReplicas', 0)}/"
                 f"{(status['deployments'][name].get('spec') or {}).get('replicas', '?')} ready" for name in unavailable]
        cause = f"Deployment not Available or not rolled out: {', '.join(ready)}"
    else:
        cause = "installed"
    context = [f"nodes: {first(status['nodes'])}"] if status["nodes"] else []
    svclb = [f"{name} {why}" for name, why in status["svclb"].items() if why]
    context += [first(svclb)] if svclb else []
    return "; ".join([cause, *context])
