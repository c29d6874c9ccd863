"""kube-controller-manager, kube-scheduler and k3s's own controllers of `k3s server`, as REST clients
of the local API (node token, CA from /cacerts), each on its own daemon thread.

Timings come from kube-controller-manager-arg as in k3s: `node-monitor-period` (5s),
`node-monitor-grace-period` (40s), `node-eviction-rate` (0.1 nodes/s NoExecute tainting per zone) and
the other disruption flags of `disruption.py`. `disable: [servicelb]` turns ServiceLB off.

Example:
    start(options)   # returns at once; the controllers run until the process exits
"""

from __future__ import annotations

import os
import threading
from typing import Any

from k3s_standin import client
from k3s_standin.controllers import durations, log, loop
from k3s_standin.controllers.daemonset import DaemonSets
from k3s_standin.controllers.deployment import Deployments
from k3s_standin.controllers.disruption import Limits
from k3s_standin.controllers.endpoints import Endpoints
from k3s_standin.controllers.helm_controller import HelmController
from k3s_standin.controllers.manifests import Manifests
from k3s_standin.controllers.node_ipam import NodeIpam
from k3s_standin.controllers.node_lifecycle import NodeLifecycle, faults_path
from k3s_standin.controllers.pod_gc import PodGC
from k3s_standin.controllers.replicaset import ReplicaSets
from k3s_standin.controllers.scheduler import Scheduler
from k3s_standin.controllers.servicelb import ServiceLB
from k3s_standin.controllers.taint_eviction import TaintEviction

RESYNC = 1.0


def run_all(options: Any) -> None:
    api = client.for_options(options, log=log.info)
    args = dict(options.kube_controller_manager_args)
    grace = durations.seconds("node-monitor-grace-period", args, 40.0)
    period = durations.seconds("node-monitor-period", args, 5.0)
    loop.every("node-ipam", RESYNC, NodeIpam(api, options.cluster_cidr).reconcile)
    lifecycle = NodeLifecycle(api, grace, faults_path(options.data_dir), Limits.from_args(args))
    loop.every("node-lifecycle", period, lifecycle.reconcile)
    loop.every("scheduler", RESYNC, Scheduler(api).reconcile)
    loop.every("taint-eviction", RESYNC, TaintEviction(api).reconcile)
    loop.every("pod-gc", 5 * RESYNC, PodGC(api).reconcile)
    loop.every("deployment", RESYNC, Deployments(api).reconcile)
    loop.every("replicaset", RESYNC, ReplicaSets(api).reconcile)
    loop.every("daemonset", RESYNC, DaemonSets(api).reconcile)
    loop.every("endpoints", RESYNC, Endpoints(api).reconcile)
    if "servicelb" not in options.disable:
        loop.every("servicelb", 2 * RESYNC, ServiceLB(api).reconcile)
    loop.every("deploy", 2 * RESYNC, Manifests(api, os.path.join(options.data_dir, "server", "manifests")).reconcile)
    loop.every("helm-controller", 2 * RESYNC, HelmController(api).reconcile)
    log.info(f"Controllers started (node-monitor-grace-period={grace:g}s, node-monitor-period={period:g}s)")


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
