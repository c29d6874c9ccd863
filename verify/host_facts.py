"""Everything verify/ reads on the hosts, gathered once per run: one round trip per host, all hosts
at once (verify/host_probe.py runs there), so a check costs no round trip of its own.

Example:
    gathered = gather_all(cluster)
    gathered.of(cluster.control).unit("k3s.service", "ActiveState") == "active"
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from facts import node_watcher
from facts.names import HAPROXY_CONFIG, HAPROXY_SERVICE, RANCHER_BACKEND
from verify import host_probe
from verify.kube import KUBECONFIG
from verify.targets import AGENT, HAPROXY, SERVER, Cluster, Target

UNIT_PROPERTIES = ["ExecStartPre", "ActiveState", "UnitFileState"]
DEV_KMSG = "/dev/kmsg"


def request_for(target: Target, cluster: Cluster) -> dict[str, Any]:
    """What to gather on ``target``, by its roles."""
    units: dict[str, list[str]] = {}
    paths: list[str] = []
    request: dict[str, Any] = {"units": units, "paths": paths}
    if target.roles & {SERVER, AGENT}:
        units[f"{target.k3s_unit}.service"] = UNIT_PROPERTIES
        paths.append(DEV_KMSG)
    if SERVER in target.roles:
        units[node_watcher.TIMER] = ["UnitFileState", "ActiveState"]
        units[node_watcher.SERVICE] = ["LoadState", "Result"]
        paths.append(node_watcher.LOG)
    if target == cluster.control:
        request["kubeconfig"] = KUBECONFIG
        if cluster.rancher_hostname:
            request["rancher_cluster_ip"] = cluster.rancher_hostname
    if HAPROXY in target.roles:
        units[HAPROXY_SERVICE] = ["ActiveState"]
        request["haproxy"] = {"config": HAPROXY_CONFIG, "backend": RANCHER_BACKEND,
                              "hostname": cluster.rancher_hostname or ""}
    return request


@dataclass(frozen=True)
class HostFacts:
    """One host's gathered facts (the JSON host_probe.py printed)."""

    name: str
    facts: dict[str, Any]

    def unit(self, unit: str, name: str) -> str:
        """A ``systemctl show`` property, as ``systemctl show -p <name> --value <unit>`` prints it."""
        return self.facts["units"][unit][name]

    def path(self, path: str) -> dict[str, bool]:
        return self.facts["paths"][path]


@dataclass(frozen=True)
class Gathered:
    """Every host's facts by target name, or the one line saying why they could not be read."""

    hosts: dict[str, HostFacts]
    errors: dict[str, str]

    def of(self, target: Target) -> HostFacts:
        """The target's facts; a host that could not be read fails the check with its error."""
        if target.name in self.errors:
            pytest.fail(f"cannot read {target.name}: {self.errors[target.name]}", pytrace=False)
        return self.hosts[target.name]


def gather_one(target: Target, cluster: Cluster) -> HostFacts | str:
    """Run the probe on one host: its facts, or the error (first stderr line) as a string."""
    try:
        result = target.host.run(host_probe.command("gather", json.dumps(request_for(target, cluster))))
    except RuntimeError as error:
        return f"cannot connect ({str(error).strip().splitlines()[-1] if str(error).strip() else 'no answer'})"
    if result.rc != 0:
        lines = (result.stderr.strip() or result.stdout.strip() or f"exit {result.rc}").splitlines()
        return f"probe failed ({lines[-1]})"
    try:
        return HostFacts(target.name, json.loads(result.stdout))
    except ValueError:
        return f"probe printed no JSON ({result.stdout.strip()[:80]!r})"


def gather_all(cluster: Cluster) -> Gathered:
    """Every target's facts, read in parallel."""
    with ThreadPoolExecutor(max_workers=max(1, len(cluster.targets))) as pool:
        results = dict(zip((t.name for t in cluster.targets),
                           pool.map(lambda target: gather_one(target, cluster), cluster.targets), strict=True))
    return Gathered(hosts={name: found for name, found in results.items() if isinstance(found, HostFacts)},
                    errors={name: found for name, found in results.items() if isinstance(found, str)})
