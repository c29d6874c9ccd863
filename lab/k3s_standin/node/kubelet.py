"""kubelet: registers the Node, renews its Lease, posts the Ready heartbeat, and runs the pods bound
to it (their "containers" are threads of this process, so stopping k3s really stops them). Pods
being deleted are stopped and then confirmed with a grace-0 delete, as the kubelet does.

Example:
    Kubelet(api, options, node_ip, network).register()
"""

from __future__ import annotations

import copy
import json
import os
import time
from typing import Any

from k3s_standin.client import ApiError, Client, path
from k3s_standin.controllers import clock, log
from k3s_standin.node import node_object
from k3s_standin.node.pod_network import PodNetwork
from k3s_standin.node.pod_status import pod_status
from k3s_standin.node.rancher import RancherContainer
from k3s_standin.node.runtime import Completed, Container, PodRuntime
from k3s_standin.node.runtime_state import RuntimeState
from k3s_standin.node.svclb import SvclbContainer

Obj = dict[str, Any]
LEASE_SECONDS = 40
# After a kubelet (re)start, containerd recreates each pod's sandbox, CNI wires it and the
# containers start: several seconds on real k3s before a pod's ports answer again. Without this a
# rebooted node's svclb port would be back within a second, shorter than any load balancer check.
POD_START_SECONDS = 5.0


class Kubelet:
    def __init__(self, api: Client, options: Any, node_ip: str, network: PodNetwork | None) -> None:
        self.api = api
        self.options = options
        self.name = options.node_name
        self.node_ip = node_ip
        self.network = network
        self.pods: dict[str, PodRuntime] = {}
        self.tls_dir = os.path.join(options.data_dir, "agent", "rancher-tls")
        self.pods_start_at = time.monotonic() + POD_START_SECONDS
        self.runtime_state = RuntimeState.from_kubelet_args(options.kubelet_args)
        self.posted_ready = False

    # node registration and heartbeats

    def register(self) -> Obj:
        """Create the Node, or adopt the existing one keeping its spec (taints survive restarts)."""
        body = node_object.registration(self.options, self.node_ip)
        try:
            node = self.api.create(path("v1", "nodes"), body)
            log.info(f"Successfully registered node {self.name}")
        except ApiError as error:
            if error.code != 409:
                raise

            def adopt(obj: Obj) -> bool:
                before = json.dumps(obj["metadata"], sort_keys=True)
                obj["metadata"].setdefault("labels", {}).update(body["metadata"]["labels"])
                obj["metadata"].setdefault("annotations", {}).update(body["metadata"]["annotations"])
                return json.dumps(obj["metadata"], sort_keys=True) != before

            node = self.api.mutate(path("v1", "nodes", name=self.name), adopt) or {}
        self.post_status(initial=body["status"])
        return node

    def post_status(self, initial: Obj | None = None) -> None:
        now = clock.rfc3339()
        errors = self.runtime_state.errors()

        def write(obj: Obj) -> bool:
            if initial:
                obj.setdefault("status", {}).update(copy.deepcopy(initial))
            return node_object.post_status(obj, self.node_ip, self.options.node_name, now, errors)

        self.api.mutate(path("v1", "nodes", name=self.name, subresource="status"), write)
        self.posted_ready = not errors

    def ready_to_post(self) -> bool:
        """Post at once when the runtime turns ready, not at the next status period: the kubelet's
        `fastStatusUpdateOnce` (kubernetes/kubernetes pkg/kubelet/kubelet.go) does the same."""
        return not self.posted_ready and not self.runtime_state.errors()

    def renew_lease(self) -> None:
        url = path("coordination.k8s.io/v1", "leases", "kube-node-lease", self.name)
        try:
            self.api.patch(url, {"spec": {"holderIdentity": self.name, "renewTime": clock.micro(),
                                          "leaseDurationSeconds": LEASE_SECONDS}})
        except ApiError as error:
            if error.code != 404:
                raise
            node = self.api.get(path("v1", "nodes", name=self.name))
            self.api.create(path("coordination.k8s.io/v1", "leases", "kube-node-lease"), {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": "kube-node-lease",
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self.name,
                                                  "uid": node["metadata"]["uid"]}]},
                "spec": {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_SECONDS,
                         "renewTime": clock.micro()}})

    # pods

    def container_for(self, pod: Obj, spec: Obj, pod_ip: str) -> Container | None:
        image = spec.get("image", "")
        repository = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
        repository = repository.removeprefix("docker.io/")
        if repository.startswith("rancher/klipper-lb"):
            return SvclbContainer(self.api, pod, spec)
        if repository.startswith("rancher/klipper-helm"):
            return Completed()
        if repository == "rancher/rancher":
            return RancherContainer(pod_ip, spec, self.tls_dir)
        return None

    def sync_pods(self) -> None:
        pods = self.api.list(path("v1", "pods"), fieldSelector=f"spec.nodeName={self.name}")
        seen = set()
        for pod in pods:
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            if pod["metadata"].get("deletionTimestamp"):
                self.stop(uid)
                self.api.delete(path("v1", "pods", pod["metadata"]["namespace"], pod["metadata"]["name"]), grace=0)
                continue
            if uid not in self.pods and (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            if uid not in self.pods and time.monotonic() < self.pods_start_at:
                continue
            runtime = self.pods.get(uid) or self.start(pod)
            self.report(pod, runtime)
        for uid in set(self.pods) - seen:
            self.stop(uid)

    def start(self, pod: Obj) -> PodRuntime:
        meta = pod["metadata"]
        previous = pod.get("status") or {}
        if (pod["spec"].get("hostNetwork") or self.network is None):
            pod_ip = self.node_ip
        else:
            pod_ip = self.network.allocate(meta["uid"], previous.get("podIP", ""))
        restarts = max([int(s.get("restartCount", 0)) + (1 if s.get("containerID") else 0)
                        for s in previous.get("containerStatuses") or []] or [0])
        runtime = PodRuntime(pod, pod_ip, self.container_for, restart_count=restarts)
        runtime.start(clock.rfc3339())
        self.pods[meta["uid"]] = runtime
        log.info(f"Started pod {meta['namespace']}/{meta['name']} on {pod_ip}")
        return runtime

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
        runtime = self.pods.pop(uid, None)
        if runtime is None:
            return
        runtime.stop()
        if self.network is not None:
            self.network.release(uid)
        meta = runtime.pod["metadata"]
        log.info(f"Stopped pod {meta['namespace']}/{meta['name']}")

    def stop_all(self) -> None:
        for uid in list(self.pods):
            self.stop(uid)

    def loop_forever(self, status_period: float) -> None:
        """Heartbeats on their own cadence, pod sync every second."""
        lease_period = min(10.0, status_period)
        next_status = next_lease = 0.0
        last_error = ""
        while True:
            now = time.monotonic()
            try:
                if now >= next_lease:
                    self.renew_lease()
                    next_lease = now + lease_period
                if now >= next_status or self.ready_to_post():
                    self.post_status()
                    next_status = now + status_period
                self.sync_pods()
                last_error = ""
            except (ApiError, OSError) as error:
                # The API being away is not fatal to a kubelet: it retries on the next tick.
                if str(error) != last_error:
                    log.error(f"kubelet: {error}")
                last_error = str(error)
            time.sleep(1.0)
