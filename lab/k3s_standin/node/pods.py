"""The kubelet's pod worker: runs the pods bound to this node, adopts the ones still running after a
kubelet restart, and stops the ones no longer bound.

A pod with a long-running container (svclb, Rancher, Traefik, any other pulled image but the helm
job's) runs in its own shim process (`shims.py`), so
stopping or killing k3s leaves it serving, as real k3s's KillMode=process leaves containerd's shims.
A new kubelet adopts a live shim of a pod still bound here: the same container ids, start times and
restart count, nothing restarted (kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_manager.go
`computePodActions` keeps a ready sandbox and its running containers). A pod without one, or whose shim is gone (killed,
or a reboot emptied /run), is started after POD_START_SECONDS, its restart count one up when it had
run before. Pods whose containers only complete (the helm job) or fail to pull have nothing to keep
running and stay in this process; a failed pull is retried once the image is in the store (an
archive imported with `k3s ctr images import`), as the kubelet retries after ImagePullBackOff.
Pods being deleted stop gracefully, as the kubelet's pod worker kills them
(kubernetes/kubernetes pkg/kubelet/pod_workers.go terminating → terminated;
pkg/kubelet/kuberuntime/kuberuntime_container.go `killContainer`): SIGTERM at once, the grace period
being the pod's `deletionGracePeriodSeconds` (else `terminationGracePeriodSeconds`, else 30 s) and at
least `minimumGracePeriodInSeconds` (2 s), SIGKILL when it is over; once the containers are gone the
pod object is deleted with grace 0 (pkg/kubelet/status/status_manager.go `canBeDeleted`). The sync
never waits for it: every pass checks the terminating pods again. A pod no longer bound here (force
deleted) stops the same way with the minimum grace period. While a pod terminates its Endpoints
entry is already gone and its EndpointSlice endpoint is ready=false (`controllers/endpoints.py`).

The kubelet feeds what shims cannot read from the API: svclb pods' Service endpoints (targets.json)
and Traefik pods' Ingress routes with their TLS certificates (routes.json, `ingress_routes.py`).

Example:
    workers = Pods(api, options, node_ip, network); workers.sync()
"""

from __future__ import annotations

import os
import time
from typing import Any

from k3s_standin.client import ApiError, Client, path
from k3s_standin.controllers import clock, log
from k3s_standin.node import ingress_routes, svclb
from k3s_standin.node.helm_container import HelmJobContainer
from k3s_standin.node.image_store import ImageStore
from k3s_standin.node.pod_logs import LogWriter, log_file
from k3s_standin.node.pod_network import PodNetwork
from k3s_standin.node.pod_status import pod_status
from k3s_standin.node.runtime import HELM, TRAEFIK, Container, PodRuntime, image_kind, needs_shim
from k3s_standin.node.shims import Shims, run_dir

Obj = dict[str, Any]
# After a kubelet (re)start, containerd recreates each pod's sandbox, CNI wires it and the
# containers start: several seconds on real k3s before a pod's ports answer again. Without this a
# rebooted node's svclb port would be back within a second, shorter than any load balancer check.
POD_START_SECONDS = 5.0
FINISHED = ("Succeeded", "Failed")
DEFAULT_GRACE_SECONDS = 30
MINIMUM_GRACE_SECONDS = 2


def grace_seconds(pod: Obj) -> int:
    """kuberuntime's setTerminationGracePeriod, floored at minimumGracePeriodInSeconds.

    Example:
        grace_seconds({"metadata": {"deletionGracePeriodSeconds": 0}, "spec": {}})   # 2
    """
    meta, spec = pod["metadata"], pod.get("spec") or {}
    chosen = meta.get("deletionGracePeriodSeconds")
    if chosen is None:
        chosen = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
    return max(int(chosen), MINIMUM_GRACE_SECONDS)


def previous_restarts(pod: Obj) -> int:
    """The restart count a (re)started pod reports: one up for containers that had run."""
    previous = pod.get("status") or {}
    return max([int(s.get("restartCount", 0)) + (1 if s.get("containerID") else 0)
                for s in previous.get("containerStatuses") or []] or [0])


def is_svclb(pod: Obj) -> bool:
    return bool(svclb.service_of(pod)[1])


def is_traefik(pod: Obj) -> bool:
    return any(image_kind(spec.get("image", "")) == TRAEFIK for spec in pod["spec"].get("containers") or [])


class Pods:
    def __init__(self, api: Client, options: Any, node_ip: str, network: PodNetwork | None) -> None:
        self.api = api
        self.name = options.node_name
        self.node_ip = node_ip
        self.network = network
        self.running: dict[str, PodRuntime] = {}
        self.shims = Shims(run_dir())
        self.targets: dict[str, dict[str, list[tuple[str, int]]]] = {}
        self.routes: dict[str, Obj] = {}
        # uid -> when SIGKILL is due (monotonic), for pods whose containers were sent SIGTERM.
        self.kill_at: dict[str, float] = {}
        self.store = ImageStore(options.data_dir)
        self.tls_dir = os.path.join(options.data_dir, "agent", "rancher-tls")
        self.start_at = time.monotonic() + POD_START_SECONDS

    def long_running(self, pod: Obj) -> bool:
        return needs_shim(pod, self.store.has)

    def passive_container(self, pod: Obj, spec: Obj, pod_ip: str, restart: int) -> Container | None:
        """Containers of a pod without a shim: the helm job runs here; the rest cannot be pulled."""
        image = spec.get("image", "")
        if image_kind(image) != HELM or not self.store.has(image):
            return None
        return HelmJobContainer(pod, spec, self.api, LogWriter(log_file(pod["metadata"], spec["name"], restart)))

    def sync(self) -> None:
        pods = self.api.list(path("v1", "pods"), fieldSelector=f"spec.nodeName={self.name}")
        routes = self.wanted_routes() if any(is_traefik(pod) for pod in pods) else {}
        for pod in pods:
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                if is_traefik(pod) and self.shims.alive(meta["uid"]):
                    # Traefik keeps watching Ingresses while it drains.
                    self.feed_routes(pod, routes)
                if self.terminated(meta["uid"], grace_seconds(pod)):
                    self.api.delete(path("v1", "pods", meta["namespace"], meta["name"]), grace=0)
                continue
            runtime = self.current(pod)
            if runtime is None:
                if (pod.get("status") or {}).get("phase") in FINISHED or time.monotonic() < self.start_at:
                    continue
                runtime = self.start(pod)
            if not self.long_running(pod):
                runtime.tick(clock.rfc3339())
            self.report(pod, runtime)
            if is_svclb(pod) and self.long_running(pod):
                self.feed(pod)
            if is_traefik(pod) and self.long_running(pod):
                self.feed_routes(pod, routes)
        bound = {pod["metadata"]["uid"] for pod in pods}
        for uid in (set(self.running) | set(self.shims.uids())) - bound:
            self.terminated(uid, MINIMUM_GRACE_SECONDS)

    def terminated(self, uid: str, grace: int) -> bool:
        """One step of a pod's graceful stop: SIGTERM first, SIGKILL after `grace` seconds; True once
        its containers are gone (address freed, bundle removed)."""
        if uid not in self.kill_at:
            self.kill_at[uid] = time.monotonic() + grace
            runtime = self.running.get(uid)
            log.info(f"Killing pod {runtime.pod['metadata']['name'] if runtime else uid} "
                     f"with a grace period of {grace}s")
            self.shims.terminate(uid)
        if self.shims.alive(uid):
            if time.monotonic() < self.kill_at[uid]:
                return False
            log.info(f"Pod {uid}: grace period of {grace}s over, killing its containers")
            self.shims.kill(uid)
        self.kill_at.pop(uid)
        self.stop(uid)
        return True

    def current(self, pod: Obj) -> PodRuntime | None:
        """The pod's running containers: tracked here, or adopted from a shim that outlived the last
        kubelet; None when they must be (re)started."""
        uid = pod["metadata"]["uid"]
        runtime = self.running.get(uid)
        if runtime is not None and self.pulled_since(runtime):
            log.info(f"Pod {pod['metadata']['namespace']}/{pod['metadata']['name']}: its images are here now")
            self.stop(uid)
            return None
        if runtime is not None and (not self.long_running(pod) or self.shims.alive(uid)):
            return runtime
        if runtime is not None:
            log.info(f"Pod {pod['metadata']['namespace']}/{pod['metadata']['name']}: its shim is gone")
            self.stop(uid)
        adopted = self.shims.adopt(pod) if self.long_running(pod) else None
        if adopted is not None:
            self.claim_address(pod, adopted.pod_ip)
            self.running[uid] = adopted
            log.info(f"Adopted running pod {pod['metadata']['namespace']}/{pod['metadata']['name']}")
        return adopted

    def runtime_of(self, namespace: str, name: str) -> PodRuntime | None:
        """The running pod of that name here (the kubelet server's lookup for logs)."""
        return next((r for r in list(self.running.values())
                     if (r.pod["metadata"]["namespace"], r.pod["metadata"]["name"]) == (namespace, name)), None)

    def pulled_since(self, runtime: PodRuntime) -> bool:
        """A pod whose pull failed, after ImagePullBackOff, once the store has the image."""
        return runtime.pull_backoff() and any("pull image" in c.error and self.store.has(c.image)
                                              for c in runtime.containers)

    def claim_address(self, pod: Obj, previous: str) -> str:
        if pod["spec"].get("hostNetwork") or self.network is None:
            return self.node_ip
        return self.network.allocate(pod["metadata"]["uid"], previous)

    def start(self, pod: Obj) -> PodRuntime:
        meta = pod["metadata"]
        pod_ip = self.claim_address(pod, (pod.get("status") or {}).get("podIP", ""))
        stamp = clock.rfc3339()
        if self.long_running(pod):
            wanted = self.wanted_targets(pod) if is_svclb(pod) else {}
            pulled = [spec.get("image", "") for spec in pod["spec"].get("containers") or []
                      if self.store.has(spec.get("image", ""))]
            runtime = self.shims.launch(pod, pod_ip, previous_restarts(pod), self.tls_dir, stamp, wanted, pulled)
            self.targets[meta["uid"]] = wanted
        else:
            runtime = PodRuntime(pod, pod_ip, self.passive_container, restart_count=previous_restarts(pod))
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

    def wanted_routes(self) -> Obj:
        """Traefik's view of the cluster: every Ingress, Service, Endpoints, Secret and Middleware."""
        ingresses, middlewares = self.listed_if_served("networking.k8s.io/v1", "ingresses"), \
            self.listed_if_served("traefik.io/v1alpha1", "middlewares")
        return ingress_routes.routes(ingresses, self.api.list(path("v1", "services")),
                                     self.api.list(path("v1", "endpoints")), self.api.list(path("v1", "secrets")),
                                     middlewares)

    def listed_if_served(self, group_version: str, plural: str) -> list[Obj]:
        """Every object of a kind, none while the API does not serve it (404: the traefik-crd chart not
        installed yet)."""
        try:
            return self.api.list(path(group_version, plural))
        except ApiError as error:
            if error.code != 404:
                raise
            return []

    def feed_routes(self, pod: Obj, routes: Obj) -> None:
        """Keep a Traefik shim's routes current (what Traefik's own Ingress watch does)."""
        uid = pod["metadata"]["uid"]
        if self.routes.get(uid) != routes:
            self.shims.update_routes(uid, routes)
            self.routes[uid] = routes

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
        self.routes.pop(uid, None)
        had_shim = uid in self.shims.uids()
        if had_shim:
            self.shims.stop(uid)
        if runtime is None and not had_shim:
            return
        if self.network is not None:
            self.network.release(uid)
        log.info(f"Stopped pod {runtime.pod['metadata']['name'] if runtime else uid}")
