"""kube-controller-manager, kube-scheduler and k3s's own controllers of `k3s server`, as REST clients
of the local API (node token, CA from /cacerts), each on its own daemon thread.

Upstream: kubernetes/kubernetes cmd/kube-controller-manager/app, k3s-io/k3s pkg/server/server.go.

Timings come from kube-controller-manager-arg as in k3s: `node-monitor-period` (5s),
`node-monitor-grace-period` (40s), `node-eviction-rate` (0.1 nodes/s NoExecute tainting per zone) and
the other disruption flags of `disruption.py`. `disable: [servicelb]` turns ServiceLB off.
In an HA cluster (embedded etcd) each group runs only on the server holding its lease (`leader.py`).
Besides kube-controller-manager's (now with the Job controller) and k3s's own (deploy, helm,
ServiceLB), two stand-ins for workloads: cert-manager's controller and Rancher's CA, each acting only
while its pods are Ready.

Example:
    start(options)   # returns at once; the controllers run until the process exits
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from k3s_standin import client
from k3s_standin.controllers import durations, leader, log, loop
from k3s_standin.controllers.cert_manager import CertManager
from k3s_standin.controllers.daemonset import DaemonSets
from k3s_standin.controllers.deployment import Deployments
from k3s_standin.controllers.disruption import Limits
from k3s_standin.controllers.disruption_budget import DisruptionBudgets
from k3s_standin.controllers.endpoints import Endpoints
from k3s_standin.controllers.helm_controller import HelmController
from k3s_standin.controllers.job import Jobs
from k3s_standin.controllers.manifests import Manifests
from k3s_standin.controllers.node_ipam import NodeIpam
from k3s_standin.controllers.node_lifecycle import NodeLifecycle, faults_path
from k3s_standin.controllers.pod_gc import PodGC
from k3s_standin.controllers.rancher_tls import RancherCA
from k3s_standin.controllers.replicaset import ReplicaSets
from k3s_standin.controllers.scheduler import Scheduler
from k3s_standin.controllers.servicelb import ServiceLB
from k3s_standin.controllers.taint_eviction import TaintEviction

RESYNC = 1.0
KCM = "kube-controller-manager"


def run_all(options: Any) -> None:
    api = client.for_options(options, log=log.info)
    args = dict(options.kube_controller_manager_args)
    grace = durations.seconds("node-monitor-grace-period", args, 40.0)
    period = durations.seconds("node-monitor-period", args, 5.0)
    controllers = controller_list(api, options, args, grace, period)
    if options.embedded_etcd:
        elect(options, controllers)
    else:
        for name, every, reconcile, _ in controllers:
            loop.every(name, every, reconcile)
    log.info(f"Controllers started (node-monitor-grace-period={grace:g}s, node-monitor-period={period:g}s)")


def controller_list(api: client.Client, options: Any, args: dict[str, str], grace: float,
                    period: float) -> list[tuple[str, float, Callable[[], None], str]]:
    """(name, period, reconcile, lease) in start order. The lease is the one the controller runs
    under in an HA cluster: kube-controller-manager's, kube-scheduler's, or k3s's own (k3s-io/k3s
    pkg/server/server.go runs the deploy, helm and ServiceLB controllers under its `k3s` lease)."""
    lifecycle = NodeLifecycle(api, grace, faults_path(options.data_dir), Limits.from_args(args))
    controllers = [
        ("node-ipam", RESYNC, NodeIpam(api, options.cluster_cidr).reconcile, KCM),
        ("node-lifecycle", period, lifecycle.reconcile, KCM),
        ("scheduler", RESYNC, Scheduler(api).reconcile, "kube-scheduler"),
        ("taint-eviction", RESYNC, TaintEviction(api).reconcile, KCM),
        ("pod-gc", 5 * RESYNC, PodGC(api).reconcile, KCM),
        ("deployment", RESYNC, Deployments(api).reconcile, KCM),
        ("replicaset", RESYNC, ReplicaSets(api).reconcile, KCM),
        ("daemonset", RESYNC, DaemonSets(api).reconcile, KCM),
        ("job", RESYNC, Jobs(api).reconcile, KCM),
        ("endpoints", RESYNC, Endpoints(api).reconcile, KCM),
        ("disruption", RESYNC, DisruptionBudgets(api).reconcile, KCM),
    ]
    if "servicelb" not in options.disable:
        controllers.append(("servicelb", 2 * RESYNC, ServiceLB(api).reconcile, "k3s"))
    manifests_dir = os.path.join(options.data_dir, "server", "manifests")
    controllers += [("deploy", 2 * RESYNC, Manifests(api, manifests_dir, options.disable).reconcile, "k3s"),
                    ("helm-controller", 2 * RESYNC, HelmController(api).reconcile, "k3s"),
                    # Workloads the cluster runs, not k3s: modelled here because their images are the
                    # stand-in's own; each acts only while its pods are Ready.
                    ("cert-manager", 2 * RESYNC, CertManager(api).reconcile, "k3s"),
                    ("rancher-ca", 2 * RESYNC, RancherCA(api).reconcile, "k3s")]
    return controllers


def elect(options: Any, controllers: list[tuple[str, float, Callable[[], None], str]]) -> None:
    """The controllers of each lease start when this server wins it (`leader.py`); the candidates
    run on their own threads, with an API client whose requests end within the renew deadline."""
    with open(os.path.join(options.data_dir, "server", "token"), encoding="utf-8") as handle:
        token = handle.read().strip()
    lease_api = client.Client(f"https://127.0.0.1:{options.https_listen_port}",
                              os.path.join(options.data_dir, "agent", "server-ca.crt"), token,
                              timeout=leader.RENEW_DEADLINE / 2)
    holder = leader.identity(options.node_name)
    for lease in dict.fromkeys(entry[3] for entry in controllers):
        def start_group(lease: str = lease) -> None:
            for name, every, reconcile, owner in controllers:
                if owner == lease:
                    loop.every(name, every, reconcile)
        elector = leader.Elector(lease_api, lease, holder)
        threading.Thread(target=elector.run, args=(start_group,), name=f"leader-{lease}", daemon=True).start()


def run_all_or_exit(options: Any) -> None:
    """``run_all``; a failure to start the controllers is fatal, as in k3s, so systemd restarts the
    server instead of leaving an API without a node lifecycle controller (seen once after a reboot:
    loading the client certificate failed in this thread and nothing tainted NotReady nodes)."""
    try:
        run_all(options)
    except Exception as error:  # noqa: BLE001 - any start-up failure ends the process
        log.error(f"controllers failed to start: {error}")
        os._exit(1)


def start(options: Any) -> None:
    """Start all controllers on daemon threads once the local API answers; returns at once."""
    threading.Thread(target=run_all_or_exit, args=(options,), name="controllers", daemon=True).start()
