"""When a restarted k3s node counts as back: read on a control node, decided here without I/O.

A node is back when, after the restart was issued (``issued``, epoch seconds on the control node's
clock, read just before the restart command):

* the kubelet has posted ``Ready=True`` with a heartbeat after ``issued``: a restarted kubelet first
  renews its lease and posts ``Ready=False`` (KubeletNotReady) before ``Ready=True``
  (kubernetes ``pkg/kubelet/nodestatus/setters.go`` ReadyCondition), so the old process's
  ``Ready=True`` next to a fresh lease is not enough;
* its node lease was renewed after ``issued`` (``renewTime`` is a MicroTime, so this compares to the
  microsecond): the kubelet is alive now, not only at its last status post;
* every pod that was bound to it before the restart and still is (same uid, not finished) is Running
  and Ready again; after a container reboot its containers must also have started after ``issued``,
  since the pod's status may still be the one posted before the reboot.

Heartbeats are whole seconds, so a heartbeat counts only from the second after ``issued``: a kubelet
takes longer than that to start. The residual risk is an old process posting ``Ready=True`` in the
moment between the clock read and its own stop; the fresh HAProxy check after the node is back
(tasks/haproxy_runtime.py) does not depend on it.

Example:
    probe = json.loads(output)   # from probe_command("k3s-worker-1")
    problem = not_back_yet(probe, NodeRestart("k3s-worker-1", issued=1732530000.25,
                                              pods=frozenset({"9f1c..."}), containers_restarted=True))
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyinfra.api import StringCommand

Obj = dict[str, Any]
# Pods in these phases are done; nothing restarts them, so they are not waited for.
FINISHED_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class NodeRestart:
    """One node's restart: when it was issued (control node's clock), the uids of the pods bound
    to it then, and whether its containers were killed (a container reboot, not a unit restart)."""

    node: str
    issued: float
    pods: frozenset[str] = frozenset()
    containers_restarted: bool = False


def epoch(timestamp: str | None) -> float:
    """RFC 3339 (``2026-12-01T10:00:00Z`` or with microseconds) as epoch seconds; 0 when absent."""
    if not timestamp:
        return 0.0
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def clock_command() -> StringCommand:
    """The control node's clock as epoch seconds with a fraction, e.g. ``1732530000.250123456``."""
    return StringCommand("date", "+%s.%N")


def probe_command(node_name: str) -> StringCommand:
    """One command printing the node, its lease and the pods bound to it as one JSON object
    (``null`` for what the API did not give), read with ``k3s kubectl`` on a control node."""
    name = shlex.quote(node_name)
    selector = shlex.quote(f"spec.nodeName={node_name}")
    get = "k3s kubectl --request-timeout=5s get"
    return StringCommand(
        f"node=$({get} node {name} -o json 2>/dev/null) || node=null; "
        f"lease=$({get} lease -n kube-node-lease {name} -o json 2>/dev/null) || lease=null; "
        f"pods=$({get} pods -A --field-selector {selector} -o json 2>/dev/null) || pods=null; "
        'printf \'{"node": %s, "lease": %s, "pods": %s}\\n\' "${node:-null}" "${lease:-null}" "${pods:-null}"'
    )


def parse_probe(output: str) -> Obj:
    """The probe's JSON; an unreadable answer (the API went away mid-probe) reads as nothing known."""
    try:
        probe = json.loads(output)
    except ValueError:
        return {"node": None, "lease": None, "pods": None}
    return probe if isinstance(probe, dict) else {"node": None, "lease": None, "pods": None}


def pod_uids(probe: Obj) -> frozenset[str]:
    """The uids of the unfinished pods in a probe: what must be running again after the restart."""
    return frozenset(pod["metadata"]["uid"] for pod in live_pods(probe))


def live_pods(probe: Obj) -> list[Obj]:
    items = (probe.get("pods") or {}).get("items") or []
    return [pod for pod in items if (pod.get("status") or {}).get("phase") not in FINISHED_PHASES
            and not pod["metadata"].get("deletionTimestamp")]


def ready_condition(node: Obj) -> Obj:
    conditions = (node.get("status") or {}).get("conditions") or []
    return next((item for item in conditions if item.get("type") == "Ready"), {})


def pod_problem(pod: Obj, restart: NodeRestart) -> str:
    """Why one pod is not serving again yet; empty when it is."""
    meta, status = pod["metadata"], pod.get("status") or {}
    name = f"{meta.get('namespace')}/{meta.get('name')}"
    ready: Obj = next((item for item in status.get("conditions") or [] if item.get("type") == "Ready"), {})
    if status.get("phase") != "Running" or ready.get("status") != "True":
        return f"pod {name} not Running and Ready"
    if restart.containers_restarted:
        started = [epoch((item.get("state") or {}).get("running", {}).get("startedAt"))
                   for item in status.get("containerStatuses") or []]
        if not started or min(started) < int(restart.issued) + 1:
            return f"pod {name} still reports containers from before the reboot"
    return ""


def not_back_yet(probe: Obj, restart: NodeRestart) -> str:
    """Why the node does not count as back yet (one phrase), or ``""`` when it does."""
    node = probe.get("node")
    if not node:
        return "node not readable from the API"
    ready = ready_condition(node)
    if ready.get("status") != "True":
        return f"Ready={ready.get('status', 'missing')} ({ready.get('reason', 'no reason')})"
    if epoch(ready.get("lastHeartbeatTime")) < int(restart.issued) + 1:
        return "no Ready=True posted since the restart"
    if epoch(((probe.get("lease") or {}).get("spec") or {}).get("renewTime")) <= restart.issued:
        return "node lease not renewed since the restart"
    if probe.get("pods") is None:
        return "pods not readable from the API"
    bound = [pod for pod in live_pods(probe) if pod["metadata"]["uid"] in restart.pods]
    return next((problem for pod in bound if (problem := pod_problem(pod, restart))), "")
