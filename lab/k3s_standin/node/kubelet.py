"""kubelet: registers the Node, renews its Lease, posts the Ready heartbeat, runs the pods bound
to it through its pod worker (`pods.py`; their containers outlive this process in their shims) and
serves their logs (`kubelet_server.py`, on the kubelet-arg `port`, default 10250).

Upstream: kubernetes/kubernetes pkg/kubelet/kubelet_node_status.go, pkg/kubelet/nodelease.

Example:
    Kubelet(api, options, node_ip, network, certs).register()
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from k3s_standin.client import ApiError, Client, path
from k3s_standin.controllers import clock, log
from k3s_standin.node import node_object
from k3s_standin.node.kubelet_certs import KubeletCerts
from k3s_standin.node.kubelet_server import KubeletServer, kubelet_port
from k3s_standin.node.pod_network import PodNetwork
from k3s_standin.node.pods import Pods
from k3s_standin.node.runtime_state import RuntimeState

Obj = dict[str, Any]
LEASE_SECONDS = 40


class Kubelet:
    def __init__(self, api: Client, options: Any, node_ip: str, network: PodNetwork | None,
                 certs: KubeletCerts) -> None:
        self.api = api
        self.options = options
        self.name = options.node_name
        self.node_ip = node_ip
        self.pods = Pods(api, options, node_ip, network)
        self.runtime_state = RuntimeState.from_kubelet_args(options.kubelet_args)
        self.posted_ready = False
        self.port = kubelet_port(dict(options.kubelet_args))
        self.server = KubeletServer(certs, self.port, api.token, self.pods.runtime_of)

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
            return node_object.post_status(obj, self.node_ip, self.options.node_name, now, errors, self.port)

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
                self.pods.sync()
                last_error = ""
            except (ApiError, OSError) as error:
                # The API being away is not fatal to a kubelet: it retries on the next tick.
                if str(error) != last_error:
                    log.error(f"kubelet: {error}")
                last_error = str(error)
            time.sleep(1.0)
