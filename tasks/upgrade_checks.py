"""What the rolling upgrade decides before it touches anything: which version each node runs now (its
``status.nodeInfo.kubeletVersion``, read once on the first server), whether the inventory's target
may follow it (tasks/upgrade_rules.py), whether the charts the deploy installs accept the target
(their ``kubeVersion``, as helm would judge it), and which nodes are left to upgrade.

Every refusal is one line naming the host and the field, raised while the run is prepared, so
nothing has changed when it is read.

Example:
    plan = upgrade_plan(["k3s-control"], ["k3s-worker-1"], nodes, {"k3s-control": NEW, "k3s-worker-1": NEW})
    plan.left == ["k3s-control", "k3s-worker-1"]     # both run v1.30.8+k3s1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from facts.cluster_nodes import ClusterNode
from tasks.cert_manager import cert_manager_values, cert_manager_wanted
from tasks.chart_source import check_fits
from tasks.rancher_values import rancher_values
from tasks.upgrade_rules import nodes_left, parse_k3s_version, refusals, upgrade_order

# The upgrade's name for the cluster lock and on the cordons it makes (tasks/node_drain.py).
JOB = "upgrade"

class UpgradeRefused(ValueError):
    """The planned upgrade may not start; the message is one line per reason, joined by ``; ``."""


@dataclass(frozen=True)
class UpgradePlan:
    """The nodes in upgrade order, the version each runs now, each one's target, and the nodes whose
    kubelet is not at its target yet (a node whose binary alone differs is found on its own host)."""

    order: list[str]
    running: dict[str, str | None]
    targets: dict[str, str]
    left: list[str]


def running_versions(nodes: Mapping[str, ClusterNode]) -> dict[str, str | None]:
    """Each node's kubelet version (``None`` when the API gives none)."""
    return {name: node["kubelet_version"] or None for name, node in nodes.items()}


def upgrade_plan(servers: Sequence[str], agents: Sequence[str], nodes: Mapping[str, ClusterNode] | None,
                 targets: Mapping[str, str]) -> UpgradePlan:
    """The plan over the cluster as the first server's API lists it; raises UpgradeRefused when the API
    does not answer, an inventory node is not in the cluster, or upgrade_rules refuses a step."""
    if nodes is None:
        raise UpgradeRefused(f"{servers[0]}: its Kubernetes API does not answer (k3s kubectl get nodes), so the "
                             "versions the nodes run are unknown")
    missing = [f"{name}: not a node of the cluster; deploy it first (deploy.py)"
               for name in (*servers, *agents) if name not in nodes]
    running = running_versions(nodes)
    found = missing + refusals(servers, agents, running, targets)
    if found:
        raise UpgradeRefused("; ".join(found))
    order = upgrade_order(servers, agents)
    # A node at its target but still cordoned by the upgrade is one a stopped run left so (its agent came
    # back on the new binary by itself): it is finished again (restart, uncordon, HAProxy ready), not
    # skipped. An operator's cordon is not the upgrade's to finish.
    behind = set(nodes_left(order, running, targets)) | {name for name in order if nodes[name]["cordoned_by"] == JOB}
    return UpgradePlan(order, {name: running[name] for name in order}, dict(targets),
                       [name for name in order if name in behind])


def target_problem(target: Any) -> str:
    """Why a host's ``k3s_version`` cannot be an upgrade's target (empty when it can)."""
    if not target:
        return "missing: the upgrade's target version (with k3s_binary_src, or k3s_binary_url + k3s_sha256)"
    try:
        parse_k3s_version(str(target))
    except ValueError:
        return f"{target!r} is not a k3s version such as v1.31.4+k3s1"
    return ""


def check_charts_fit(data: Mapping[str, Any], target: str) -> None:
    """Refuse a target that a chart the deploy installs here excludes by its ``kubeVersion``: Rancher
    when ``rancher`` is set, cert-manager when the deploy installs it (tasks/cert_manager.py), each
    validated as the deploy validates it. Raises InvalidField naming the chart's field."""
    if data.get("rancher") is not None:
        check_fits(rancher_values(data).chart, "rancher", target)
    if cert_manager_wanted(data):
        check_fits(cert_manager_values(data).chart, "cert_manager", target)


def at_target(node: str, plan: UpgradePlan, binary_sha256: str | None, target_sha256: str) -> bool:
    """The node's kubelet runs its target and its installed binary is the target's: a re-run skips it."""
    return node not in plan.left and binary_sha256 == target_sha256
