"""
Rancher's reachability from a k3s control node, and why it is not reachable, in one command.

The command prints marked sections (kubectl JSON, then the answer from ``/ping`` through the
ClusterIP of ``cattle-system/rancher``, asked with python3: Proxmox's debian-12-standard template
has no curl); ``process`` turns them into a status whose
``problem`` is one line saying what stands in the way, or ``None``.
"""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api import FactBase

from facts.sections import split_sections
from verify import host_probe

Obj = dict[str, Any]

NAMESPACE = "cattle-system"
SERVICE = "rancher"
# The Service the deploy adds so HAProxy reaches Rancher on every node (tasks/rancher.py).
EXPOSURE_SERVICE = "rancher-lb"
SVCLB_LABEL = "svccontroller.k3s.cattle.io/svcname"
CHART_LABEL = "helmcharts.helm.cattle.io/chart"
_MARK = "### "
PING = host_probe.command("ping")

# Sections run in one shell; kubectl's stderr is kept in its section, that is the diagnosis
# when the API itself does not answer. svclb pods live in kube-system (k3s >= 1.26) or in
# the Service's namespace (older), both are read; selectors keep the output small on big
# clusters. Only the HelmChart's name and status are read: its spec holds the bootstrap password.
_COMMAND = f"""\
k() {{ k3s kubectl "$@" 2>&1; }}
echo '{_MARK}cattle'; k -n {NAMESPACE} get deployments,pods,services -o json
echo '{_MARK}helmchart'
k -n kube-system get helmcharts.helm.cattle.io rancher --ignore-not-found \\
  -o 'jsonpath={{.metadata.name}}{{"\\n"}}{{.status}}'; echo
echo '{_MARK}job'; k -n kube-system get jobs -l {CHART_LABEL}=rancher -o json
echo '{_MARK}svclb'; k -n kube-system get pods -l {SVCLB_LABEL}={EXPOSURE_SERVICE} -o json
echo '{_MARK}nodes'
k get nodes -o 'jsonpath={{range .items[*]}}{{.metadata.name}}{{"\\t"}}'\\
'{{.status.conditions[?(@.type=="Ready")].status}}{{"\\t"}}{{.spec.taints}}{{"\\n"}}{{end}}'
echo '{_MARK}ping'
ip=$(k3s kubectl -n {NAMESPACE} get service {SERVICE} -o 'jsonpath={{.spec.clusterIP}}' 2>/dev/null)
if [ -n "$ip" ]; then {PING} "$ip" 443 {SERVICE} 2>&1; echo; fi
"""


def section_texts(lines: list[str]) -> dict[str, str]:
    """Section name -> its text, from the command's marked output."""
    return {
        marker[len(_MARK):].strip(): "\n".join(body).strip()
        for marker, body in split_sections(lines, _MARK).items()
        if marker
    }


def _last_line(text: str) -> str:
    """kubectl's summary of what went wrong is its last line (after klog's noise)."""
    return ([line for line in text.splitlines() if line.strip()] or ["no output"])[-1]


def _items(text: str) -> tuple[list[Obj], str | None]:
    """(objects, error): kubectl's List, or its summary line when it printed no JSON."""
    try:
        return json.loads(text).get("items") or [], None
    except ValueError:
        return [], _last_line(text)


def _helmchart(text: str) -> tuple[Obj | None, str | None]:
    """(HelmChart with its status, error) from the ``name`` + status JSON lines."""
    name, _, status = text.partition("\n")
    if not name:
        return None, None
    if name != "rancher":
        return None, _last_line(text)
    try:
        return {"metadata": {"name": name}, "status": json.loads(status) if status.strip() else {}}, None
    except ValueError:
        return None, _last_line(status)


def _condition(obj: Obj, kind: str) -> Obj:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return {}


def pod_problem(pod: Obj) -> str | None:
    """Why a pod does not serve: unscheduled (scheduler's message), image pull, not ready."""
    status = pod.get("status") or {}
    node = (pod.get("spec") or {}).get("nodeName")
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return f"Terminating on {node}"
    scheduled = _condition(pod, "PodScheduled")
    if scheduled.get("status") == "False":
        return f"Pending: {scheduled.get('message') or scheduled.get('reason') or 'not scheduled'}"
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            return f"{waiting.get('reason')} on {node}: {waiting.get('message') or ''}".rstrip(": ")
    if status.get("phase") != "Running":
        return f"{status.get('phase') or 'Unknown'} on {node}"
    if _condition(pod, "Ready").get("status") != "True":
        return f"Running on {node}, not Ready"
    return None


def _nodes(text: str) -> tuple[list[str], str | None]:
    """(problems, error) from ``name<TAB>Ready status<TAB>taints JSON`` lines."""
    problems = []
    for line in filter(None, text.splitlines()):
        # a node without taints ends in a tab that output handling may strip
        fields = line.split("\t", 2)
        if len(fields) < 2:
            return [], _last_line(text)
        name, ready, taints = (fields + [""])[:3]
        problem = node_problem(name, ready == "True", json.loads(taints) if taints else [])
        if problem:
            problems.append(problem)
    return problems, None


def node_problem(name: str, ready: bool, taints: list[Obj]) -> str | None:
    """A node that keeps pods away: NotReady, or NoSchedule/NoExecute taints."""
    keeping_away = [
        f"{taint['key']}:{taint['effect']}" for taint in taints if taint.get("effect") in ("NoSchedule", "NoExecute")
    ]
    if ready and not keeping_away:
        return None
    state = "Ready" if ready else "NotReady"
    return f"{name} {state}" + (f" tainted {', '.join(keeping_away)}" if keeping_away else "")


def _first(items: list[str], shown: int = 3) -> str:
    """The first ``shown`` items, and how many more: one line even with a thousand nodes."""
    more = f", and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def _job_failure(job: Obj | None, chart: Obj) -> str | None:
    for obj in (job or {}, chart):
        failed = _condition(obj, "Failed")
        if failed.get("status") == "True":
            return failed.get("message") or failed.get("reason") or "failed"
    return None


def rancher_status(sections: dict[str, str]) -> dict[str, Any]:
    """Status of the Rancher install from the sections; ``problem`` is one line or None."""
    cattle, cattle_error = _items(sections.get("cattle", ""))
    jobs, job_error = _items(sections.get("job", ""))
    svclb, svclb_error = _items(sections.get("svclb", ""))
    chart, chart_error = _helmchart(sections.get("helmchart", ""))
    nodes, nodes_error = _nodes(sections.get("nodes", ""))
    by_kind: dict[str, list[Obj]] = {}
    for obj in cattle + jobs:
        by_kind.setdefault(obj.get("kind", ""), []).append(obj)

    job_name = ((chart or {}).get("status") or {}).get("jobName")
    job = next((j for j in by_kind.get("Job", []) if j["metadata"]["name"] == job_name), None)
    deployment = next(
        (d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == "rancher"), None
    )
    pods = by_kind.get("Pod", [])
    rancher_pods = [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == "rancher"]
    svclb_pods = svclb + [p for p in pods if (p["metadata"].get("labels") or {}).get(SVCLB_LABEL) == EXPOSURE_SERVICE]
    ping = sections.get("ping", "")

    status: dict[str, Any] = {
        "helmchart": chart is not None,
        "job": job_name,
        "job_failed": _job_failure(job, chart or {}),
        "deployment": deployment is not None,
        "available": deployment is not None and _condition(deployment, "Available").get("status") == "True",
        "pods": {p["metadata"]["name"]: pod_problem(p) for p in rancher_pods},
        "svclb": {p["metadata"]["name"]: pod_problem(p) for p in svclb_pods},
        "nodes": nodes,
        "ping": ping,
        "error": cattle_error or chart_error or job_error or svclb_error or nodes_error,
    }
    status["ready"] = status["available"] and ping == "pong"
    status["problem"] = None if status["ready"] else diagnose(status, deployment)
    return status


def diagnose(status: dict[str, Any], deployment: Obj | None = None) -> str:
    """One line: the first thing in Rancher's way, then the nodes and svclb pods in trouble."""
    if status["error"]:
        cause = f"kubectl failed: {status['error']}"
    elif not status["helmchart"]:
        cause = "HelmChart kube-system/rancher not found (manifest not applied yet)"
    elif status["job_failed"]:
        cause = f"HelmChart job {status['job']} failed: {status['job_failed']}"
    elif not status["deployment"]:
        cause = f"Deployment {NAMESPACE}/rancher not created yet (HelmChart job {status['job'] or 'not started'})"
    elif any(status["pods"].values()):
        cause = "; ".join(f"pod {name} {why}" for name, why in status["pods"].items() if why)
    elif not status["available"]:
        ready = ((deployment or {}).get("status") or {}).get("readyReplicas", 0)
        wanted = ((deployment or {}).get("spec") or {}).get("replicas", "?")
        cause = f"Deployment {NAMESPACE}/rancher not Available ({ready}/{wanted} ready)"
    else:
        cause = f"/ping via ClusterIP of {NAMESPACE}/{SERVICE} answered {status['ping'] or 'nothing'!r}"
    context = [f"nodes: {_first(status['nodes'])}"] if status["nodes"] else []
    svclb = [f"{name} {why}" for name, why in status["svclb"].items() if why]
    context += [_first(svclb)] if svclb else []
    return "; ".join([cause, *context])


class RancherStatus(FactBase[dict[str, Any]]):
    """
    Returns Rancher's install and reachability as seen from a k3s control node: HelmChart and
    its job, the ``cattle-system/rancher`` Deployment and pods, the svclb pods of the Service
    HAProxy reaches (``rancher-lb``), node conditions/taints, and ``/ping`` through the ClusterIP.

    Example:

    .. code:: python

        {
            "ready": False,
            "problem": "pod rancher-5d9c-x2 Pending: 0/3 nodes are available: 3 node(s) had "
                       "untolerated taint {node.kubernetes.io/unreachable: }; "
                       "nodes: k3s-worker-1 NotReady tainted node.kubernetes.io/unreachable:NoExecute",
            "available": False, "ping": "", "pods": {"rancher-5d9c-x2": "Pending: ..."},
            ...
        }
    """

    def requires_command(self) -> str:
        return "k3s"

    def command(self) -> str:
        return _COMMAND

    def process(self, output: list[str]) -> dict[str, Any]:
        return rancher_status(section_texts(output))
