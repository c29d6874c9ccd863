"""Recorded facts for the repair diagnosis tests: cluster nodes and ``NodeDiagnosis`` outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facts.node_diagnosis import NodeDiagnosis, NodeDiagnosisState
from tasks.repair.plan import Observation

FIXTURES = Path(__file__).resolve().parent / "fixtures"
UNREACHABLE = [
    {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
]


def diagnosis(name: str) -> NodeDiagnosisState:
    """``NodeDiagnosis`` processed from ``fixtures/repair_diagnosis_<name>.txt``."""
    return NodeDiagnosis().process((FIXTURES / f"repair_diagnosis_{name}.txt").read_text().splitlines())


def node(name: str, ready: str = "True", taints: list[dict[str, Any]] | None = None,
         since: str = "2024-11-25T10:01:00Z") -> dict[str, Any]:
    """A ``ClusterNodes`` entry; NotReady nodes carry the controller's unreachable taints by default."""
    reason = {"True": "KubeletReady", "Unknown": "NodeStatusUnknown", "False": "KubeletNotReady"}[ready]
    if taints is None:
        taints = [] if ready == "True" else UNREACHABLE
    return {"name": name, "internal_ip": "10.213.0.1", "ready": ready, "reason": reason, "since": since,
            "taints": taints}


def cluster(*nodes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in nodes}


def running(fixture: str, location: str = "@pct/lab/111") -> Observation:
    """A node whose running container answered ``NodeDiagnosis`` with the named fixture."""
    return Observation(location=location, container="running", diagnosis=diagnosis(fixture))
