"""The kubelet's pod worker: runs the pods bound to this node, adopts the ones still running after a
kubelet restart, and stops the ones no longer bound.

A pod with a long-running container (svclb, Rancher) runs in its own shim process (`shims.py`), so
stopping or killing k3s leaves it serving, as real k3s's KillMode=process leaves containerd's shims.
A new kubelet adopts a live shim of a pod still bound here: the same container ids, start times and
restart count, nothing restarted (kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_manager.go
`computePodActions` keeps a ready sandbox and its running containers). A pod without one, or whose shim is gone (killed,
or a reboot emptied /run), is started after POD_START_SECONDS, its restart count one up when it had
run before. Pods whose containers only complete or fail to pull have nothing to keep running and stay
in this process. Pods being deleted are stopped and then confirmed with a grace-0 delete.

Example:
    workers = Pods(api, options, node_ip, network); workers.sync()
"""

from __future__ import annotations

import os
import time
from typing import Any

from k3s_standin.client import Client, path
from k3s_standin.controllers import clock, log
from k3s_standin.node import svclb
from k3s_standin.node.pod_network import PodNetwork
from k3s_standin.node.pod_status import pod_status
from k3s_standin.node.runtime import HELM, Completed, Container, PodRuntime, image_kind, long_running
from k3s_standin.node.shims import Shims, run_dir

Obj = dict[str, Any]
# After a kubelet (re)start, containerd recreates each pod's sandbox, CNI wires it and the
# containers start: several seconds on real k3s before a pod's ports answer again. Without this a
# rebooted node's svclb port would be back within a second, shorter than any load balancer check.
POD_START_SECONDS = 5.0
FINISHED = ("Succeeded", "Failed")


def passive_container(pod: Obj, spec: Obj, pod_ip: str) -> Container | None:
    """Containers of a pod without a shim: they complete at once or cannot be pulled."""
    return Completed() if image_kind(spec.get("image", "")) == HELM else None


def previous_restarts(pod: Obj) -> int:
    """The restart count a (re)started pod reports: one up for containers that had run."""
    previous = pod.get("status") or {}
    return max([int(s.get("restartCount", 0)) + (1 if s.get("containerID") else 0)
                for s in previous.get("containerStatuses") or []] or [0])


def is_svclb(pod: Obj) -> bool:
    return bool(svclb.service_of(pod)[1])


class Pods:
    def __init__(self, api: Client, options: Any, node_ip: str, network: PodNetwork | None) -> None:
        self.api = api
        self.name = options.node_name
        self.node_ip = node_ip
        self.network = network
        self.running: dict[str, PodRuntime] = {}
        self.shims = Shims(run_dir())
        self.targets: dict[str, dict[str, list[tuple[str, int]]]] = {}
        self.tls_dir = os.path.join(options.data_dir, "agent", "rancher-tls")
        self.start_at = time.monotonic() + POD_START_SECONDS

    def sync(self) -> None:
        pods = self.api.list(path("v1", "pods"), fieldSelector=f"spec.nodeName={self.name}")
        for pod in pods:
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                self.stop(meta["uid"])
                self.api.delete(path("v1", "pods", meta["namespace"], meta["name"]), grace=0)
                continue
            runtime = self.current(pod)
            if runtime is None:
                if (pod.get("status") or {}).get("phase") in FINISHED or time.monotonic() < self.start_at:
                    continue
                runtime = self.start(pod)
            self.report(pod, runtime)
            if is_svclb(pod) and long_running(pod):
                self.feed(pod)
        bound = {pod["metadata"]["uid"] for pod in pods}
        for uid in (set(self.running) | set(self.shims.uids())) - bound:
            self.stop(uid)

    def current(self, pod: Obj) -> PodRuntime | None:
        """The pod's running containers: tracked here, or adopted from a shim that outlived the last
        kubelet; None when they must be (re)started."""
        uid = pod["metadata"]["uid"]
        runtime = self.running.get(uid)
        if runtime is not None and (not long_running(pod) or self.shims.alive(uid)):
            return runtime
        if runtime is not None:
            log.info(f"Pod {pod['metadata']['namespace']}/{pod['metadata']['name']}: its shim is gone")
            self.stop(uid)
        adopted = self.shims.adopt(pod) if long_running(pod) else None
        if adopted is not None:
            self.claim_address(pod, adopted.pod_ip)
            self.running[uid] = adopted
            log.info(f"Adopted running pod {pod['metadata']['namespace']}/{pod['metadata']['name']}")
        return adopted

    def claim_address(self, pod: Obj, previous: str) -> str:
        if pod["spec"].get("hostNetwork") or self.network is None:
            return self.node_ip
        return self.network.allocate(pod["metadata"]["uid"], previous)

    def start(self, pod: Obj) -> PodRuntime:
        meta = pod["metadata"]
        pod_ip = self.claim_address(pod, (pod.get("status") or {}).get("podIP", ""))
        stamp = clock.rfc3339()
        if long_running(pod):
            wanted = self.wanted_targets(pod) if is_svclb(pod) else {}
            runtime = self.shims.launch(pod, pod_ip, previous_restarts(pod), self.tls_dir, stamp, wanted)
            self.targets[meta["uid"]] = wanted
        else:
            runtime = PodRuntime(pod, pod_ip, passive_container, restart_count=previous_restarts(pod))
            runtime.start(stamp)
        self.running[meta["uid"]] = runtime
        log.info(f"Started pod {meta['namespace']}/{meta['name']} on {pod_ip}")
        return runtime

    def wanted_targets(self, pod: Obj) -> dict[str, list[tuple[str, int]]]:
        namespace, name = svclb.service_of(pod)
        return svclb.targets(pod, self.api.find(path("v1", "services", namespace, name)),
                             self.api.find(path("v1", "endpoints", namespace, name)))

    def feed(self, pod: Obj) -> None:
        """Keep an svclb shim's endpoints current (what kube-proxy's rules do for klipper-lb)."""
        uid = pod["metadata"]["uid"]
        wanted = self.wanted_targets(pod)
        if self.targets.get(uid) != wanted:
            self.shims.update_targets(uid, wanted)
            self.targets[uid] = wanted

    def report(self, pod: Obj, runtime: PodRuntime) -> None:
        status = pod_status(pod, runtime, self.node_ip, clock.rfc3339())
        if status == pod.get("status"):
            return
        meta = pod["metadata"]

        def write(obj: Obj) -> bool:
            if obj["metadata"].get("uid") != meta["uid"]:
                return False
            obj["status"] = pod_status(obj, runtime, self.node_ip, clock.rfc3339())
            return True

        self.api.mutate(path("v1", "pods", meta["namespace"], meta["name"], "status"), write)

    def stop(self, uid: str) -> None:
        """Stop the pod's containers (its shim, if any) and free its address."""
        runtime = self.running.pop(uid, None)
        self.targets.pop(uid, None)
        had_shim = uid in self.shims.uids()
        if had_shim:
            self.shims.stop(uid)
        if runtime is None and not had_shim:
            return
        if self.network is not None:
            self.network.release(uid)
        log.info(f"Stopped pod {runtime.pod['metadata']['name'] if runtime else uid}")
