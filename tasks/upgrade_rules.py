"""What a rolling k3s upgrade may do, decided before anything is touched: pure functions over versions
and node names, so the upgrade entry file refuses a bad target in one line and a re-run knows where
it stopped.

The rules are upstream's:
* one minor version at a time, never down: k3s docs "Upgrades" (docs.k3s.io/upgrades) and the
  Kubernetes version skew policy (kubernetes.io/releases/version-skew-policy: kube-apiserver
  instances "must be upgraded one minor version at a time"; downgrades are not supported);
* agents never newer than servers: the same policy, "kubelet must not be newer than kube-apiserver"
  (kubelet, kube-proxy and the agent's k3s are one binary); compared by minor version, as the
  policy is written;
* servers one at a time, then agents: k3s docs "Manual Upgrades" (servers first, then agents).

A k3s version is Kubernetes' (`tasks.kube_version.parse_version`) plus the k3s build number of its
`+k3sN` suffix, which orders re-spins of one Kubernetes patch (v1.31.4+k3s2 after +k3s1).

Example:
    step_refusal("k3s-control", "v1.30.8+k3s1", "v1.32.0+k3s1")
    # "k3s-control: k3s_version v1.32.0+k3s1 skips a minor version: it runs v1.30.8+k3s1; upgrade to 1.31 first"
    nodes_left(upgrade_order(["k3s-control"], ["k3s-worker-1"]), {"k3s-control": "v1.31.4+k3s1"}, targets)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tasks.kube_version import Version, compare, parse_version

FIELD = "k3s_version"
_K3S_BUILD = re.compile(r"\+k3s(\d+)$")


@dataclass(frozen=True)
class K3sVersion:
    """A parsed k3s release version, e.g. v1.31.4+k3s1 -> kube (1, 31, 4, ()), build 1."""

    text: str
    kube: Version
    build: int

    @property
    def minor(self) -> tuple[int, int]:
        return self.kube[0], self.kube[1]


def parse_k3s_version(text: str) -> K3sVersion:
    """`v1.31.4+k3s1` -> K3sVersion; a version without `+k3sN` counts as build 0. ValueError when it
    is no version at all."""
    match = _K3S_BUILD.search(text.strip())
    return K3sVersion(text.strip(), parse_version(text), int(match.group(1)) if match else 0)


def order_of(left: K3sVersion, right: K3sVersion) -> int:
    """-1, 0 or 1 as `left` is older than, the same as or newer than `right`."""
    kube = compare(left.kube, right.kube)
    if kube:
        return kube
    return (left.build > right.build) - (left.build < right.build)


def step_refusal(host: str, running: str, target: str) -> str | None:
    """Why `host` may not go from `running` to `target` (a downgrade, or more than one minor), or None."""
    now, wanted = parse_k3s_version(running), parse_k3s_version(target)
    if order_of(wanted, now) < 0:
        return f"{host}: {FIELD} {target} is older than the {running} it runs; k3s does not support downgrades"
    if wanted.kube[0] != now.kube[0] or wanted.kube[1] > now.kube[1] + 1:
        return (f"{host}: {FIELD} {target} skips a minor version: it runs {running}; "
                f"upgrade to {now.kube[0]}.{now.kube[1] + 1} first")
    return None


def skew_refusal(host: str, agent_target: str, server_targets: Sequence[str]) -> str | None:
    """Why agent `host` may not run `agent_target` beside servers at `server_targets`, or None."""
    oldest = min((parse_k3s_version(v) for v in server_targets), key=lambda v: v.minor, default=None)
    if oldest is None or parse_k3s_version(agent_target).minor <= oldest.minor:
        return None
    return (f"{host}: {FIELD} {agent_target} is newer than the servers' {oldest.text}; "
            "an agent (kubelet) must not be newer than the servers")


def refusals(servers: Sequence[str], agents: Sequence[str], running: Mapping[str, str | None],
             targets: Mapping[str, str]) -> list[str]:
    """Every refusal of the planned upgrade, one line each; `running[host]` is None for a node that
    does not run k3s yet (nothing to step from)."""
    found = [step_refusal(host, current, targets[host])
             for host in (*servers, *agents) if (current := running.get(host))]
    found += [skew_refusal(host, targets[host], [targets[server] for server in servers]) for host in agents]
    return [line for line in found if line]


def upgrade_order(servers: Sequence[str], agents: Sequence[str]) -> list[str]:
    """Servers one at a time in inventory order, then the agents."""
    return [*servers, *agents]


def nodes_left(order: Sequence[str], running: Mapping[str, str | None], targets: Mapping[str, str]) -> list[str]:
    """The nodes of `order` not yet at their target, from each node's `status.nodeInfo.kubeletVersion`
    (None: unknown, so still to do): what a re-run resumes with."""
    return [host for host in order
            if running.get(host) is None or order_of(parse_k3s_version(str(running[host])),
                                                     parse_k3s_version(targets[host])) != 0]
