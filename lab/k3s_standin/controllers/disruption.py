"""Zone disruption and the rate limit on NoExecute tainting of the node lifecycle controller.

As kubernetes/kubernetes pkg/controller/nodelifecycle/node_lifecycle_controller.go does it: nodes are
grouped by zone (`topology.kubernetes.io/region` + `zone` labels, `GetZoneKey`); a zone with no Ready
node is in full disruption, one with more than 2 and at least `unhealthy-zone-threshold` (0.55) of its
nodes not Ready in partial disruption (`ComputeZoneState`). Each zone taints NoExecute through a
token bucket of `node-eviction-rate` (0.1/s, burst 1) in normal state; in partial disruption
`secondary-node-eviction-rate` (0.01/s) when the zone has more than `large-cluster-size-threshold`
(50) nodes, else 0 (`ReducedQPSFunc`); when every zone is fully disrupted no zone taints at all
(`handleDisruption`, "Entering master disruption mode"). All four are kube-controller-manager flags.

Example:
    limits = Limits.from_args({"node-eviction-rate": "10"})
    state = zone_state([ready_condition_of(node) for node in zone_nodes], limits)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]
NORMAL, PARTIAL, FULL = "Normal", "PartialDisruption", "FullDisruption"
EXCLUDE_LABEL = "node.kubernetes.io/exclude-disruption"


@dataclasses.dataclass(frozen=True)
class Limits:
    """The kube-controller-manager flags of eviction rate limiting, with their upstream defaults."""

    rate: float = 0.1
    secondary_rate: float = 0.01
    unhealthy_threshold: float = 0.55
    large_cluster: int = 50

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Limits:
        """Read `node-eviction-rate`, `secondary-node-eviction-rate`, `unhealthy-zone-threshold` and
        `large-cluster-size-threshold` from kube-controller-manager-arg."""
        return cls(rate=float(args.get("node-eviction-rate") or cls.rate),
                   secondary_rate=float(args.get("secondary-node-eviction-rate") or cls.secondary_rate),
                   unhealthy_threshold=float(args.get("unhealthy-zone-threshold") or cls.unhealthy_threshold),
                   large_cluster=int(args.get("large-cluster-size-threshold") or cls.large_cluster))

    def zone_rate(self, state: str, zone_size: int) -> float:
        """Tokens per second for a zone in `state` (`setLimiterInZone`)."""
        if state == NORMAL:
            return self.rate
        if state == PARTIAL:
            return self.secondary_rate if zone_size > self.large_cluster else 0.0
        # A fully disrupted zone beside healthy ones taints at the normal rate (HealthyQPSFunc).
        return self.rate


def zone_key(node: Obj) -> tuple[str, str]:
    labels = node["metadata"].get("labels") or {}
    return labels.get("topology.kubernetes.io/region", ""), labels.get("topology.kubernetes.io/zone", "")


def counted(node: Obj) -> bool:
    """Nodes labelled node.kubernetes.io/exclude-disruption do not count (`isNodeExcludedFromDisruptionChecks`)."""
    return EXCLUDE_LABEL not in (node["metadata"].get("labels") or {})


def zone_state(ready_statuses: list[str | None], limits: Limits) -> str:
    """`ComputeZoneState` over the zone's Ready condition statuses (None: no condition yet)."""
    ready = sum(1 for status in ready_statuses if status == "True")
    not_ready = len(ready_statuses) - ready
    if ready == 0 and not_ready > 0:
        return FULL
    if not_ready > 2 and not_ready / len(ready_statuses) >= limits.unhealthy_threshold:
        return PARTIAL
    return NORMAL


class TokenBucket:
    """client-go flowcontrol's token bucket with burst 1 (`EvictionRateLimiterBurst`); rate 0 never accepts.

    Example:
        bucket = TokenBucket(0.1); bucket.try_accept()  # True, then False for the next 10 s
    """

    def __init__(self, rate: float, now: float | None = None) -> None:
        self.rate = rate
        self.tokens = 1.0
        self.stamp = time.monotonic() if now is None else now

    def swap(self, rate: float, now: float | None = None) -> None:
        """A new rate from now on, like `SwapLimiter` (pkg/controller/nodelifecycle/scheduler/
        rate_limited_queue.go): a fresh bucket, drained when the old one had no token left."""
        if rate == self.rate:
            return
        now = time.monotonic() if now is None else now
        had_token = self.try_accept(now)
        self.rate, self.tokens, self.stamp = rate, (1.0 if had_token else 0.0), now

    def try_accept(self, now: float | None = None) -> bool:
        if self.rate <= 0:
            return False
        now = time.monotonic() if now is None else now
        self.tokens = min(1.0, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
