"""Endpoints and EndpointSlice controllers: for each Service with a selector, the IPs of matching
pods with target ports resolved.

A terminating pod (deletionTimestamp set, its containers still stopping) leaves the two differently,
as upstream:
* Endpoints drop it at once, unless the Service sets publishNotReadyAddresses; ready pods are
  `addresses`, the others `notReadyAddresses` (kubernetes/kubernetes
  pkg/controller/endpoint/endpoints_controller.go `syncService` with
  staging/src/k8s.io/endpointslice/util/controller_utils.go `ShouldPodBeInEndpoints(pod,
  includeTerminating=publishNotReadyAddresses)`);
* EndpointSlices keep it until the pod object is gone, with the conditions ready=false,
  serving=<its Ready condition>, terminating=true (staging/src/k8s.io/endpointslice/utils.go
  `podToEndpoint`: `ready := publishNotReadyAddresses || (serving && !terminating)`;
  `ShouldPodBeInEndpoints(pod, true)` in reconciler.go). kube-proxy reads the slices
  (`node/kube_proxy.py`), so it can stop sending to a terminating pod before its process stops.
Finished pods (Succeeded, Failed) and pods without an IP are in neither.

Example:
    Endpoints(api).reconcile()
    slice_endpoint(service, terminating_pod)["conditions"]
    # {"ready": False, "serving": True, "terminating": True}
"""

from __future__ import annotations

from typing import Any

from k3s_standin.client import ApiError, Client, path
from k3s_standin.controllers import names, replicaset

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"


def selects(selector: dict[str, str], pod: Obj) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def target_port(service_port: Obj, pod: Obj) -> int | None:
    """A service port's targetPort on this pod: a number, or a named container port."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return None


def address(pod: Obj) -> Obj:
    meta = pod["metadata"]
    entry = {"ip": pod["status"]["podIP"],
             "targetRef": {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"],
                           "uid": meta.get("uid", "")}}
    if (pod.get("spec") or {}).get("nodeName"):
        entry["nodeName"] = pod["spec"]["nodeName"]
    return entry


def in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not finished, has an IP, and not terminating unless asked for."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed") or not status.get("podIP"):
        return False
    return include_terminating or not pod["metadata"].get("deletionTimestamp")


def publishes_unready(service: Obj) -> bool:
    return bool(service["spec"].get("publishNotReadyAddresses"))


def resolved_ports(service: Obj, pod: Obj) -> list[Obj]:
    ports = []
    for port in service["spec"].get("ports") or []:
        number = target_port(port, pod)
        if number is not None:
            entry = {"port": number, "protocol": port.get("protocol", "TCP")}
            if port.get("name"):
                entry["name"] = port["name"]
            ports.append(entry)
    return ports


def subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """Endpoints subsets: one per distinct resolved port set, as the endpoints controller packs them."""
    groups: dict[tuple, Obj] = {}
    for pod in pods:
        if not in_endpoints(pod, publishes_unready(service)):
            continue
        ports = resolved_ports(service, pod)
        key = tuple(sorted((p.get("name", ""), p["port"], p["protocol"]) for p in ports))
        group = groups.setdefault(key, {"ports": ports})
        ready = publishes_unready(service) or replicaset.pod_ready(pod)
        group.setdefault("addresses" if ready else "notReadyAddresses", []).append(address(pod))
    for group in groups.values():
        for bucket in ("addresses", "notReadyAddresses"):
            if bucket in group:
                group[bucket].sort(key=lambda entry: entry["ip"])
    return [groups[key] for key in sorted(groups)]


def slice_endpoint(service: Obj, pod: Obj) -> Obj:
    """podToEndpoint: the pod's address and conditions in an EndpointSlice."""
    entry = address(pod)
    serving = publishes_unready(service) or replicaset.pod_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    item = {"addresses": [entry["ip"]], "targetRef": entry["targetRef"],
            "conditions": {"ready": publishes_unready(service) or (serving and not terminating),
                           "serving": serving, "terminating": terminating}}
    if "nodeName" in entry:
        item["nodeName"] = entry["nodeName"]
    return item


def slice_body(service: Obj, pods: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """EndpointSlice endpoints (terminating pods included) and ports, sorted by address."""
    members = [pod for pod in pods if in_endpoints(pod, include_terminating=True)]
    endpoints = sorted((slice_endpoint(service, pod) for pod in members), key=lambda item: item["addresses"][0])
    ports: list[Obj] = []
    for pod in members:
        ports += [port for port in resolved_ports(service, pod) if port not in ports]
    return endpoints, ports


class Endpoints:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        pods = self.api.list(path("v1", "pods"))
        slices = self.api.list(path("discovery.k8s.io/v1", "endpointslices"),
                               labelSelector=f"{MANAGED_BY}={SLICE_CONTROLLER}")
        for service in self.api.list(path("v1", "services")):
            selector = service["spec"].get("selector")
            if not selector:
                continue
            meta = service["metadata"]
            matching = [pod for pod in pods if pod["metadata"]["namespace"] == meta["namespace"]
                        and selects(selector, pod)]
            self.write_endpoints(service, subsets(service, matching))
            own = [s for s in slices if s["metadata"]["namespace"] == meta["namespace"]
                   and (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == meta["name"]]
            self.write_slice(service, matching, own)

    def write_endpoints(self, service: Obj, endpoint_subsets: list[Obj]) -> None:
        meta = service["metadata"]
        url = path("v1", "endpoints", meta["namespace"], meta["name"])
        current = self.api.find(url)
        if current is None:
            body = {"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                                 "labels": dict(meta.get("labels") or {})},
                    "subsets": endpoint_subsets}
            try:
                self.api.create(path("v1", "endpoints", meta["namespace"]), body)
            except ApiError as error:
                if error.code != 409:
                    raise
            return
        if (current.get("subsets") or []) != endpoint_subsets:
            def write(obj: Obj) -> bool:
                obj["subsets"] = endpoint_subsets
                return True

            self.api.mutate(url, write)

    def write_slice(self, service: Obj, pods: list[Obj], own: list[Obj]) -> None:
        meta = service["metadata"]
        endpoints, ports = slice_body(service, pods)
        if not own:
            body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": f"{meta['name']}-{names.suffix()}", "namespace": meta["namespace"],
                                 "labels": {SERVICE_NAME_LABEL: meta["name"], MANAGED_BY: SLICE_CONTROLLER},
                                 "ownerReferences": [names.owner_reference("v1", "Service", service)]},
                    "addressType": "IPv4", "endpoints": endpoints, "ports": ports}
            self.api.create(path("discovery.k8s.io/v1", "endpointslices", meta["namespace"]), body)
            return
        current = own[0]
        if (current.get("endpoints") or []) != endpoints or (current.get("ports") or []) != ports:
            def write(obj: Obj) -> bool:
                obj["endpoints"], obj["ports"] = endpoints, ports
                return True

            self.api.mutate(path("discovery.k8s.io/v1", "endpointslices", meta["namespace"],
                                 current["metadata"]["name"]), write)
