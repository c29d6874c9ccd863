"""Cluster nodes with their Ready condition, taints, kubelet version and who cordoned them, read with
``k3s kubectl`` on a control node."""

from __future__ import annotations

import json
from typing import TypedDict

from pyinfra.api import FactBase

API_DOWN = "api-unreachable"
# The annotation a job of ours (the upgrade, host maintenance) puts on a node it cordons, so that it
# gives back only its own cordons: a node an operator cordoned stays so (kured keeps the same record,
# kubereboot/kured cmd/kured/main.go: the lock annotation's "unschedulable").
CORDONED_BY = "k3s-lxc-resilience/cordoned-by"


class Taint(TypedDict):
    key: str
    effect: str


class ClusterNode(TypedDict):
    """``ready`` is the Ready condition's status: ``True``, ``False`` or ``Unknown``; ``kubelet_version``
    is ``status.nodeInfo.kubeletVersion`` (k3s: its own version, e.g. ``v1.31.4+k3s1``), empty if unset;
    ``cordoned_by`` is :func:`cordon_owner`'s answer."""

    name: str
    internal_ip: str
    ready: str
    reason: str
    since: str
    taints: list[Taint]
    kubelet_version: str
    cordoned_by: str | None


def cordon_owner(node: dict) -> str | None:
    """Who holds the node's cordon (``spec.unschedulable``, which ``kubectl cordon`` sets): the job
    named by its :data:`CORDONED_BY` mark, ``""`` for a cordon without one (an operator's), ``None``
    when the node is schedulable.

    Example:
        cordon_owner({"spec": {"unschedulable": True}, "metadata": {"annotations": {CORDONED_BY: "upgrade"}}})
        # "upgrade"
    """
    if not (node.get("spec") or {}).get("unschedulable"):
        return None
    return str(((node.get("metadata") or {}).get("annotations") or {}).get(CORDONED_BY, ""))


def summarize_node(node: dict) -> ClusterNode:
    """Reduce one Node object to its Ready condition, InternalIP, taints and kubelet version."""
    conditions = {item["type"]: item for item in node.get("status", {}).get("conditions", [])}
    ready = conditions.get("Ready", {})
    addresses = {item["type"]: item["address"] for item in node.get("status", {}).get("addresses", [])}
    return ClusterNode(
        name=node["metadata"]["name"],
        internal_ip=addresses.get("InternalIP", ""),
        ready=ready.get("status", "Unknown"),
        reason=ready.get("reason", ""),
        since=ready.get("lastTransitionTime", ""),
        taints=[Taint(key=taint["key"], effect=taint["effect"]) for taint in node.get("spec", {}).get("taints", [])],
        kubelet_version=node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", ""),
        cordoned_by=cordon_owner(node),
    )


class ClusterNodes(FactBase["dict[str, ClusterNode] | None"]):
    """
    Every node of the cluster by name; ``None`` while the API does not answer.

    Run it on a control node: ``k3s kubectl`` reads the server's ``/etc/rancher/k3s/k3s.yaml``.

    .. code:: python

        host.get_fact(ClusterNodes)
        {"k3s-worker-1": {"name": "k3s-worker-1", "internal_ip": "10.213.0.111",
                          "ready": "Unknown", "reason": "NodeStatusUnknown",
                          "since": "2024-11-25T10:00:00Z",
                          "taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}],
                          "kubelet_version": "v1.31.4+k3s1", "cordoned_by": None}}
    """

    def command(self) -> str:
        # All or nothing: a request that fails half-way must not leave partial JSON before the marker.
        return (f'nodes=$(k3s kubectl get nodes -o json --request-timeout=10s 2>/dev/null) '
                f'&& printf "%s\\n" "$nodes" || echo {API_DOWN}')

    def process(self, output: list[str]) -> dict[str, ClusterNode] | None:
        if not output or output[-1] == API_DOWN:
            return None
        try:
            items = json.loads("\n".join(output))["items"]
        except (ValueError, KeyError, TypeError):
            return None
        return {node["name"]: node for node in (summarize_node(item) for item in items)}
