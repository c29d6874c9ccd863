"""Leader election on a coordination.k8s.io Lease in kube-system, so the controllers of an HA
cluster run on one server at a time, as kube-controller-manager, kube-scheduler and k3s's own
controllers do (leases `kube-controller-manager`, `kube-scheduler`, `k3s`).

The algorithm is client-go's (kubernetes/kubernetes staging/src/k8s.io/client-go/tools/leaderelection/
leaderelection.go, `tryAcquireOrRenew`, `acquire`, `renew`) with kube-controller-manager's defaults
(k8s.io/component-base config/v1alpha1 `RecommendedDefaultLeaderElectionConfiguration`):
leaseDurationSeconds 15, renewDeadline 10 s, retryPeriod 2 s. A lease held by another identity is
taken only once it has not changed for leaseDuration as *this* candidate observed it (local
observed time, not the holder's renewTime, so clock skew does not matter); a takeover counts in
leaseTransitions. A leader that cannot renew within renewDeadline has lost: kube-controller-manager's
OnStoppedLeading logs "leaderelection lost" and exits 1 (cmd/kube-controller-manager/app/
controllermanager.go), which in k3s ends the whole `k3s server` process for systemd to restart.

Example:
    Elector(api, "kube-controller-manager", identity).run(start_controllers)   # blocks
"""

from __future__ import annotations

import copy
import datetime
import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from k3s_standin.client import ApiError, Client, path
from k3s_standin.controllers import log

Obj = dict[str, Any]
LEASE_DURATION = 15.0
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0
JITTER = 1.2
NAMESPACE = "kube-system"


def identity(node_name: str) -> str:
    """kube-controller-manager's id: `<hostname>_<uuid>` (controllermanager.go `leaderElectAndRun`);
    the stand-in takes the node name, which is the hostname unless --node-name says otherwise, so
    servers sharing one test host stay apart."""
    return f"{node_name}_{uuid.uuid4()}"


def micro_time(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Elector:
    """One candidate for one lease."""

    def __init__(self, api: Client, name: str, holder: str) -> None:
        self.api = api
        self.name = name
        self.holder = holder
        self.url = path("coordination.k8s.io/v1", "leases", NAMESPACE, name)
        self.observed_spec: Obj | None = None
        self.observed_time = 0.0

    def try_acquire_or_renew(self) -> bool:
        now = time.time()
        spec = {"holderIdentity": self.holder, "leaseDurationSeconds": int(LEASE_DURATION),
                "acquireTime": micro_time(now), "renewTime": micro_time(now), "leaseTransitions": 0}
        try:
            lease = self.api.find(self.url)
            if lease is None:
                self.api.create(path("coordination.k8s.io/v1", "leases", NAMESPACE), {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": NAMESPACE}, "spec": spec})
                self._observe(spec, time.monotonic())
                return True
            old = lease.get("spec") or {}
            if old != self.observed_spec:
                self._observe(old, time.monotonic())
            held_by_other = old.get("holderIdentity") and old.get("holderIdentity") != self.holder
            duration = float(old.get("leaseDurationSeconds") or LEASE_DURATION)
            if held_by_other and self.observed_time + duration > time.monotonic():
                return False
            if old.get("holderIdentity") == self.holder:
                spec["acquireTime"] = old.get("acquireTime", spec["acquireTime"])
                spec["leaseTransitions"] = old.get("leaseTransitions", 0)
            else:
                spec["leaseTransitions"] = int(old.get("leaseTransitions") or 0) + 1
            updated = copy.deepcopy(lease)
            updated["spec"] = spec
            self.api.update(self.url, updated)
        except (ApiError, OSError):
            return False
        self._observe(spec, time.monotonic())
        return True

    def _observe(self, spec: Obj, moment: float) -> None:
        self.observed_spec = spec
        self.observed_time = moment

    def acquire(self) -> None:
        log.info(f"attempting to acquire leader lease {NAMESPACE}/{self.name}...")
        while not self.try_acquire_or_renew():
            time.sleep(RETRY_PERIOD * random.uniform(1.0, JITTER))
        log.info(f"successfully acquired lease {NAMESPACE}/{self.name}")

    def renew(self) -> None:
        """Renew every retryPeriod; returns when a renewal did not succeed within renewDeadline."""
        while True:
            deadline = time.monotonic() + RENEW_DEADLINE
            while not self.try_acquire_or_renew():
                if time.monotonic() > deadline:
                    return
                time.sleep(RETRY_PERIOD)
            time.sleep(RETRY_PERIOD)

    def run(self, on_started_leading: Callable[[], None]) -> None:
        """Block until leading, start the work, renew; exit the process when leadership is lost."""
        self.acquire()
        on_started_leading()
        self.renew()
        log.emit("fatal", f"leaderelection lost for {NAMESPACE}/{self.name}")
        os._exit(1)
