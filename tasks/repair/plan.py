"""What ``repair.py`` does about each node, decided from recorded facts (pure: no I/O).

Diagnosis of a NotReady node, first cause wins (the order of issue 8):

1. its container is stopped (``pct status``)            -> ``pct start``
2. ``/dev/kmsg`` is missing or not a working link        -> recreate it
3. ``k3s`` / ``k3s-agent`` is failed, inactive or looping -> restart the unit (journal shown)
4. the unit lacks the kmsg fix                           -> recreate ``/dev/kmsg``; ``deploy.py`` makes it last
5. none of these                                         -> unknown: reported with what was checked

Ready nodes with stale ``unreachable`` / ``not-ready`` taints get them removed; nothing else is ever
done to a Ready node. Safety, as medik8s and kured do it: at most ``max_nodes`` NotReady nodes are
acted on per run; above ``max_unhealthy_percent`` NotReady nodes nothing is acted on (the network or
the control plane is the likely cause); a node still NotReady after ``max_attempts`` runs that acted
on it is only reported until it has been Ready once.

Example:

    steps = plan(cluster_nodes, observations, attempts={}, limits=Limits())
    [(step.node, step.action, step.act) for step in steps]
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from facts.names import K3S_UNITS, KMSG_FIX

# The watcher's own taint decisions (it runs alone on the host, standard library only).
from tasks.files.k3s_node_watcher import is_watched, settling
from tasks.files.k3s_node_watcher import stale_taints_patch as taint_patch

DEPLOY_HINT = "run deploy.py to make the kmsg fix last"

class Cause(str, Enum):
    CONTAINER_STOPPED = "container stopped"
    KMSG_BROKEN = "/dev/kmsg missing or broken"
    UNIT_DOWN = "k3s unit down"
    UNIT_LACKS_FIX = "unit lacks the kmsg fix"
    STALE_TAINTS = "stale taints on a Ready node"
    UNKNOWN = "unknown"


class Action(str, Enum):
    START_CONTAINER = "pct start"
    RECREATE_KMSG = "recreate /dev/kmsg"
    RESTART_UNIT = "restart unit"
    REMOVE_TAINTS = "remove stale taints"
    REPORT = "report only"


ACTION_FOR = {
    Cause.CONTAINER_STOPPED: Action.START_CONTAINER,
    Cause.KMSG_BROKEN: Action.RECREATE_KMSG,
    Cause.UNIT_DOWN: Action.RESTART_UNIT,
    Cause.UNIT_LACKS_FIX: Action.RECREATE_KMSG,
    Cause.STALE_TAINTS: Action.REMOVE_TAINTS,
    Cause.UNKNOWN: Action.REPORT,
}


@dataclass(frozen=True)
class Limits:
    """How much one run may do (host data ``repair_max_nodes``, ``repair_max_unhealthy_percent``,
    ``repair_max_attempts``)."""

    max_nodes: int = 1
    max_unhealthy_percent: int = 50
    max_attempts: int = 3


@dataclass(frozen=True)
class Observation:
    """What was read about one NotReady node.

    ``location`` says where it was looked for (empty: neither an inventory host nor a container);
    ``container`` is the ``pct status`` word, or empty when no container is known;
    ``diagnosis`` is the ``NodeDiagnosis`` fact, or ``None`` when commands could not run in it.
    """

    location: str
    container: str = ""
    diagnosis: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Finding:
    cause: Cause
    unit: str = ""
    detail: str = ""
    checked: tuple[str, ...] = ()

    @property
    def action(self) -> Action:
        return ACTION_FOR[self.cause]


@dataclass(frozen=True)
class Step:
    """One node's row of the plan; ``act`` is False when it is only reported (``why`` says why)."""

    node: str
    symptom: str
    finding: Finding
    act: bool
    why: str = ""

    @property
    def action(self) -> Action:
        return self.finding.action if self.act else Action.REPORT


# --- diagnosis -----------------------------------------------------------------------------------


def k3s_unit(diagnosis: Mapping[str, Any]) -> str:
    """The node's k3s unit: the agent where it is installed, else the server."""
    units = diagnosis.get("units", {})
    loaded = [unit for unit in reversed(K3S_UNITS.values()) if units.get(unit, {}).get("load_state") == "loaded"]
    return loaded[0] if loaded else ""


def unit_is_up(unit_state: Mapping[str, Any]) -> bool:
    return unit_state.get("active_state") == "active" and unit_state.get("sub_state") == "running"


def unit_words(unit: str, unit_state: Mapping[str, Any]) -> str:
    """``k3s-agent.service activating (auto-restart), result exit-code``."""
    result = unit_state.get("result", "")
    words = f"{unit} {unit_state.get('active_state', '?')} ({unit_state.get('sub_state', '?')})"
    return f"{words}, result {result}" if result and result != "success" else words


def kmsg_words(kmsg: Mapping[str, Any]) -> str:
    if kmsg.get("kind") == "link":
        state = "works" if kmsg.get("usable") else "is broken"
        return f"/dev/kmsg -> {kmsg.get('target')} {state}"
    return f"/dev/kmsg is {kmsg.get('kind', 'unknown')}"


def diagnose(node: str, observation: Observation) -> Finding:
    """The first cause found on a NotReady node, with everything that was checked on the way."""
    if not observation.location:
        return Finding(Cause.UNKNOWN, checked=(f"no inventory host and no container on proxmox_hosts named {node}",))
    checked = [f"found as {observation.location}"]
    if observation.container:
        checked.append(f"container {observation.container}")
    if observation.container == "stopped":
        return Finding(Cause.CONTAINER_STOPPED, detail=observation.location, checked=tuple(checked))
    diagnosis = observation.diagnosis
    if diagnosis is None:
        checked.append("cannot run commands in it")
        return Finding(Cause.UNKNOWN, checked=tuple(checked))
    unit = k3s_unit(diagnosis)
    if not unit:
        checked.append("neither k3s.service nor k3s-agent.service is installed")
        return Finding(Cause.UNKNOWN, checked=tuple(checked))
    unit_state = diagnosis["units"][unit]
    has_fix = any(KMSG_FIX in line["argv"] for line in unit_state.get("exec_start_pre", []))
    kmsg = diagnosis["kmsg"]
    checked += [kmsg_words(kmsg), unit_words(unit, unit_state), f"kmsg fix in ExecStartPre: {'yes' if has_fix else 'no'}"]
    hint = "" if has_fix else DEPLOY_HINT
    if not kmsg.get("usable"):
        return Finding(Cause.KMSG_BROKEN, unit, hint, tuple(checked))
    if not unit_is_up(unit_state):
        return Finding(Cause.UNIT_DOWN, unit, hint, tuple(checked))
    if not has_fix:
        return Finding(Cause.UNIT_LACKS_FIX, unit, hint, tuple(checked))
    return Finding(Cause.UNKNOWN, unit, checked=tuple(checked))


# --- planning -------------------------------------------------------------------------------------


def symptom(node: Mapping[str, Any]) -> str:
    """``NotReady (Unknown, NodeStatusUnknown) since ...`` or the stale taints of a Ready node."""
    if node["ready"] == "True":
        keys = sorted({taint["key"].rsplit("/", 1)[-1] for taint in node["taints"] if is_watched(taint)})
        return f"Ready with {'+'.join(keys)} taints"
    reason = f", {node['reason']}" if node.get("reason") else ""
    since = f" since {node['since']}" if node.get("since") else ""
    return f"NotReady ({node['ready']}{reason}){since}"


def api_down_nodes(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Stand-ins for the control nodes while the API does not answer: they are what to diagnose."""
    return {name: {"name": name, "ready": "Unknown", "reason": "API unreachable", "since": "", "taints": []}
            for name in names}


def unhealthy_percent(nodes: Mapping[str, Mapping[str, Any]]) -> float:
    if not nodes:
        return 0.0
    return 100.0 * sum(node["ready"] != "True" for node in nodes.values()) / len(nodes)


def plan(
    nodes: Mapping[str, Mapping[str, Any]],
    observations: Mapping[str, Observation],
    attempts: Mapping[str, int],
    limits: Limits,
    only: Collection[str] | None = None,
    now: float | None = None,
    held: Collection[str] = (),
) -> list[Step]:
    """Ordered steps: NotReady nodes (longest down first), then Ready nodes with stale taints.

    ``nodes`` is the ``ClusterNodes`` fact; ``observations`` holds every NotReady node;
    ``attempts`` counts the earlier runs that acted on a node without making it Ready;
    ``only`` restricts the steps to these nodes (the unhealthy share still counts every node);
    ``now`` (this machine's clock, the time by default) leaves the taints of a node Ready for less
    than the watcher's SETTLE_SECONDS to the node lifecycle controller; ``held`` are the nodes a host
    maintenance shut down on purpose: reported, left stopped, and not counted in the unhealthy share.
    """
    all_broken = [node for node in nodes.values() if node["ready"] != "True" and node["name"] not in held]
    broken = sorted((node for node in nodes.values() if node["ready"] != "True" and (only is None or node["name"] in only)),
                    key=lambda node: (node.get("since") or "", node["name"]))
    share = unhealthy_percent({name: node for name, node in nodes.items() if name not in held})
    too_many = len(all_broken) > 1 and share > limits.max_unhealthy_percent
    steps: list[Step] = []
    acted = 0
    for node in broken:
        name = node["name"]
        finding = diagnose(name, observations.get(name, Observation(location="")))
        why = ""
        if name in held:
            why = "under host maintenance: left stopped until `make host-maintenance PVE=<node> DONE=1`"
        elif finding.cause is Cause.UNKNOWN:
            why = "unknown cause: not guessed at"
        elif too_many:
            why = (f"{len(all_broken)} of {len(nodes)} nodes NotReady ({share:.0f}% > {limits.max_unhealthy_percent}%): "
                   "only reporting, the network or the control plane is the likely cause")
        elif attempts.get(name, 0) >= limits.max_attempts:
            why = f"still NotReady after {attempts[name]} repair runs: not acting again until it has been Ready"
        elif acted >= limits.max_nodes:
            why = f"limit: at most {limits.max_nodes} node(s) acted on per run"
        steps.append(Step(name, symptom(node), finding, act=not why, why=why))
        acted += not why
    for node in sorted(nodes.values(), key=lambda node: node["name"]):
        if only is not None and node["name"] not in only:
            continue
        if (node["ready"] == "True" and any(is_watched(taint) for taint in node["taints"])
                and not settling(node.get("since", ""), now)):
            finding = Finding(Cause.STALE_TAINTS, checked=("Ready=True",))
            steps.append(Step(node["name"], symptom(node), finding, act=True))
    return steps


def next_finding(node: str, observation: Observation, done: Iterable[Action]) -> Finding | None:
    """After an action, the next cause to act on in the same run, or ``None`` when none is left.

    Each action runs at most once per node and run, so a cause the action did not clear is
    reported instead of looped on.
    """
    finding = diagnose(node, observation)
    if finding.cause is Cause.UNKNOWN or finding.action in set(done):
        return None
    return finding


def taint_patch_json(taints: list[dict[str, Any]]) -> str:
    return json.dumps(taint_patch(taints), separators=(",", ":"))
