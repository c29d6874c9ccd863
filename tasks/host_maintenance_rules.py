"""What Proxmox host maintenance decides, without I/O: whether a Proxmox node may have its k3s
containers shut down, in which order they go and come back, the record of what was shut down
(kept in the cluster, so ``DONE=1`` knows what to bring back), and the lines an operator reads.

Refusals, all in one line naming the node (nothing is touched then):

* etcd quorum: with several servers, those on the node may not leave fewer than a quorum
  (tasks/control_plane.py ``quorum``; etcd docs "FAQ: What is failure tolerance?"); a lone
  server on the node would take the Kubernetes API down with it;
* Rancher: at least one node off that Proxmox node must be Ready and schedulable (no NoSchedule or
  NoExecute taint Rancher's pods do not tolerate; a cordoned node has
  ``node.kubernetes.io/unschedulable``), or Rancher's pods have nowhere to go;
* HAProxy: a balancer that is itself a container on the node would take Rancher's address down.

Example:
    refusal("lab", [Guest("k3s-control", 101, "server"), Guest("k3s-control-3", 103, "server")], 3, nodes, [])
    # "host maintenance of node lab refused, nothing changed: it holds k3s-control, k3s-control-3: 2 of the
    #  3 etcd members, and the 1 left are fewer than the quorum of 2"
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from tasks.control_plane import quorum

# The record: one ConfigMap, a key per Proxmox node under maintenance (ConfigMap keys allow a
# node's host name), its value the containers shut down there as a JSON list.
RECORD_NAMESPACE, RECORD_NAME = "kube-system", "k3s-lxc-resilience-host-maintenance"
# Rancher's chart tolerates this taint (rancher/rancher chart/templates/deployment.yaml tolerations).
RANCHER_TOLERATED = frozenset({"cattle.io/os"})
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


@dataclass(frozen=True)
class Guest:
    """One k3s container of the inventory on the Proxmox node: its Kubernetes node, vmid and role
    (``server`` or ``agent``)."""

    node: str
    vmid: int
    role: str


def shutdown_order(guests: Iterable[Guest]) -> list[Guest]:
    """Agents first, then servers (each in inventory order): the control plane stays whole longest.

    Example:
        [g.node for g in shutdown_order([Guest("s", 1, "server"), Guest("a", 2, "agent")])] == ["a", "s"]
    """
    listed = list(guests)
    return [guest for guest in listed if guest.role != "server"] + [guest for guest in listed if guest.role == "server"]


def start_order(guests: Iterable[Guest]) -> list[Guest]:
    """Servers first, then agents: agents join through a server."""
    listed = list(guests)
    return [guest for guest in listed if guest.role == "server"] + [guest for guest in listed if guest.role != "server"]


def quorum_problem(leaving_servers: list[str], server_count: int) -> str:
    """Why shutting down ``leaving_servers`` of ``server_count`` servers is refused ("" when it is not).

    Example:
        quorum_problem(["k3s-control"], 3) == ""
    """
    if not leaving_servers:
        return ""
    names = ", ".join(leaving_servers)
    if server_count == 1:
        return f"it holds the only k3s server, {names}: the Kubernetes API would be down"
    left = server_count - len(leaving_servers)
    if left < quorum(server_count):
        return (f"it holds {names}: {len(leaving_servers)} of the {server_count} etcd members, and the {left} left "
                f"are fewer than the quorum of {quorum(server_count)}")
    return ""


def can_run_rancher(node: Mapping[str, Any]) -> bool:
    """Ready and no scheduling taint Rancher does not tolerate (``node`` is facts/cluster_nodes' ClusterNode)."""
    return node.get("ready") == "True" and not any(
        taint["effect"] in BLOCKING_EFFECTS and taint["key"] not in RANCHER_TOLERATED
        for taint in node.get("taints") or [])


def rancher_problem(leaving: Iterable[str], nodes: Mapping[str, Mapping[str, Any]] | None) -> str:
    """Why no node would be left to run Rancher ("" when one would), from the API's node list
    (``None``: the API did not answer)."""
    if nodes is None:
        return "the Kubernetes API does not answer on a server off that node, so the nodes left cannot be checked"
    gone = set(leaving)
    if any(can_run_rancher(node) for name, node in nodes.items() if name not in gone):
        return ""
    return "no Ready, schedulable node would be left on other Proxmox nodes to run Rancher"


def haproxy_problem(balancers_on_node: list[str]) -> str:
    if not balancers_on_node:
        return ""
    return (f"HAProxy host {', '.join(balancers_on_node)} is a container on it: Rancher would not be reachable "
            "(move it to another Proxmox node first)")


def refusal(pve: str, guests: list[Guest], server_count: int, nodes: Mapping[str, Mapping[str, Any]] | None,
            balancers_on_node: list[str]) -> str:
    """The one line that refuses maintenance of ``pve`` with every reason, or "" when it may go on."""
    problems = [
        quorum_problem([guest.node for guest in guests if guest.role == "server"], server_count),
        rancher_problem([guest.node for guest in guests], nodes),
        haproxy_problem(balancers_on_node),
    ]
    found = [problem for problem in problems if problem]
    return f"host maintenance of node {pve} refused, nothing changed: {'; '.join(found)}" if found else ""


def recorded(configmap_json: str, pve: str) -> list[Guest]:
    """The guests the record lists for ``pve``, from ``kubectl get configmap -o json`` (empty
    output: no record).

    Example:
        recorded('{"data": {"lab2": "[{\\"node\\": \\"k3s-worker-2\\", \\"vmid\\": 112, \\"role\\": \\"agent\\"}]"}}',
                 "lab2") == [Guest("k3s-worker-2", 112, "agent")]
    """
    if not configmap_json.strip():
        return []
    entry = (json.loads(configmap_json).get("data") or {}).get(pve)
    return [Guest(str(item["node"]), int(item["vmid"]), str(item["role"])) for item in json.loads(entry or "[]")]


def under_maintenance(configmap_json: str) -> set[str]:
    """Every node the record lists, on any Proxmox node: what another job that starts containers
    (repair) should leave stopped until ``DONE=1``.

    Example:
        under_maintenance("") == set()
    """
    if not configmap_json.strip():
        return set()
    return {guest.node for pve in (json.loads(configmap_json).get("data") or {}) for guest in recorded(configmap_json, pve)}


def record_patch(pve: str, guests: list[Guest]) -> str:
    """The JSON merge patch (RFC 7386) that makes the record of ``pve`` list ``guests``; none left
    removes the key.

    Example:
        record_patch("lab2", []) == '{"data": {"lab2": null}}'
    """
    entry = json.dumps([asdict(guest) for guest in guests]) if guests else None
    return json.dumps({"data": {pve: entry}})


def with_guest(guests: list[Guest], guest: Guest) -> list[Guest]:
    return guests if guest in guests else [*guests, guest]


def without_guest(guests: list[Guest], guest: Guest) -> list[Guest]:
    return [kept for kept in guests if kept != guest]


def describe(guests: Iterable[Guest]) -> str:
    """``k3s-worker-2 (vmid 112), ...`` or ``none``."""
    return ", ".join(f"{guest.node} (vmid {guest.vmid})" for guest in guests) or "none"


def ready_line(pve: str, shut_down: list[Guest], left_stopped: list[Guest]) -> str:
    """The line a finished "before" run ends with."""
    line = f"node {pve} is ready for its reboot: shut down {describe(shut_down)}"
    if left_stopped:
        line += f"; already stopped and left alone: {describe(left_stopped)}"
    return f"{line}; afterwards: make host-maintenance PVE={pve} DONE=1"


def stop_line(pve: str, failed: Guest, step: str, detail: str, shut_down: list[Guest]) -> str:
    """The line a "before" run that failed at ``failed`` ends with; it stays cordoned (and drained
    in HAProxy), nothing after it is touched.

    Example:
        stop_line("lab2", Guest("k3s-worker-2", 112, "agent"), "drain", "timed out", [])
    """
    return (f"host maintenance of node {pve} stopped at {failed.node} ({step}: {detail}); nothing else touched; "
            f"shut down so far: {describe(shut_down)}; bring them back with make host-maintenance PVE={pve} DONE=1")


def back_stop_line(pve: str, failed: Guest, step: str, detail: str, left: list[Guest]) -> str:
    """The line a ``DONE=1`` run that failed at ``failed`` ends with; a re-run goes on from there."""
    return (f"bringing node {pve}'s containers back stopped at {failed.node} ({step}: {detail}); "
            f"still to bring back: {describe(left)}; fix it and run make host-maintenance PVE={pve} DONE=1 again")


def back_line(pve: str, brought_back: list[Guest]) -> str:
    if not brought_back:
        return f"node {pve}: nothing recorded as shut down there; nothing to bring back"
    return f"node {pve}: back and uncordoned: {describe(brought_back)}"


def done_line(pve: str) -> str:
    """The line a ``DONE=1`` run ends with, after verify passed."""
    return f"host maintenance of node {pve} done: its containers are back, uncordoned and verified"
