"""ServiceLB (k3s's klipper-lb controller): for each LoadBalancer Service a DaemonSet
`svclb-<svc>-<first 8 chars of the service UID>` in kube-system whose pods hold the service ports as
hostPorts; the Service's `status.loadBalancer.ingress` lists the nodes whose svclb pod is Ready.

Example:
    ServiceLB(api).reconcile()
"""

from __future__ import annotations

from typing import Any

from k3s_standin.client import Client, object_path, path
from k3s_standin.controllers import log, names, replicaset

Obj = dict[str, Any]

NAMESPACE = "kube-system"
IMAGE = "rancher/klipper-lb:v0.4.9"
SVC_NAME = "svccontroller.k3s.cattle.io/svcname"
SVC_NAMESPACE = "svccontroller.k3s.cattle.io/svcnamespace"
# k3s applies its objects with wrangler's objectset, which records this hash of what it applied.
HASH_ANNOTATION = "objectset.rio.cattle.io/hash"
CONTROL_PLANE_TOLERATIONS = [
    {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "CriticalAddonsOnly", "operator": "Exists"},
]


def wants_lb(service: Obj) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def daemonset_name(service: Obj) -> str:
    return f"svclb-{service['metadata']['name']}-{service['metadata']['uid'][:8]}"


def container(port: Obj) -> Obj:
    """One klipper-lb container per service port, environment as k3s sets it."""
    protocol = port.get("protocol", "TCP")
    name = f"lb-{protocol.lower()}-{port['port']}"
    return {"name": name, "image": IMAGE, "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": name, "containerPort": int(port["port"]), "hostPort": int(port["port"]),
                       "protocol": protocol}],
            "env": [{"name": "SRC_PORT", "value": str(port["port"])},
                    {"name": "SRC_RANGES", "value": "0.0.0.0/0"},
                    {"name": "DEST_PROTO", "value": protocol},
                    {"name": "DEST_PORT", "value": str(port.get("nodePort", port["port"]))},
                    {"name": "DEST_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIPs"}}}],
            "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}


def daemonset_for(service: Obj) -> Obj:
    meta = service["metadata"]
    name = daemonset_name(service)
    labels = {"app": name, SVC_NAME: meta["name"], SVC_NAMESPACE: meta["namespace"]}
    template = {"metadata": {"labels": labels},
                "spec": {"containers": [container(p) for p in service["spec"].get("ports") or []],
                         "tolerations": list(CONTROL_PLANE_TOLERATIONS),
                         "priorityClassName": "system-node-critical",
                         "automountServiceAccountToken": False}}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": dict(labels),
                         "annotations": {HASH_ANNOTATION: names.template_hash(template)},
                         "ownerReferences": [names.owner_reference("v1", "Service", service)]},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": template}}


def ingress(pods: list[Obj], nodes: dict[str, Obj]) -> list[Obj]:
    """Node addresses (ExternalIP, else InternalIP) of Ready svclb pods, sorted like k3s."""
    addresses = set()
    for pod in pods:
        node = nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None or not replicaset.pod_ready(pod):
            continue
        by_type = {a.get("type"): a.get("address") for a in (node.get("status") or {}).get("addresses") or []}
        address = by_type.get("ExternalIP") or by_type.get("InternalIP")
        if address:
            addresses.add(address)
    return [{"ip": address, "ipMode": "VIP"} for address in sorted(addresses)]


class ServiceLB:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        services = [s for s in self.api.list(path("v1", "services")) if wants_lb(s)]
        existing = {ds["metadata"]["name"]: ds for ds in self.api.list(path("apps/v1", "daemonsets", NAMESPACE))
                    if SVC_NAME in (ds["metadata"].get("labels") or {})}
        wanted = {daemonset_name(s) for s in services}
        for name in set(existing) - wanted:
            self.api.delete(path("apps/v1", "daemonsets", NAMESPACE, name))
            log.info(f"ServiceLB removed DaemonSet {NAMESPACE}/{name}")
        if not services:
            return
        nodes = {node["metadata"]["name"]: node for node in self.api.list(path("v1", "nodes"))}
        pods = self.api.list(path("v1", "pods", NAMESPACE))
        for service in services:
            self.sync(service, existing.get(daemonset_name(service)), pods, nodes)

    def sync(self, service: Obj, current: Obj | None, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        body = daemonset_for(service)
        if current is None:
            self.api.create(path("apps/v1", "daemonsets", NAMESPACE), body)
            log.info(f"ServiceLB created DaemonSet {NAMESPACE}/{body['metadata']['name']}")
        elif (current["metadata"].get("annotations") or {}).get(HASH_ANNOTATION) != \
                body["metadata"]["annotations"][HASH_ANNOTATION]:
            def write(obj: Obj) -> bool:
                obj["spec"]["template"] = body["spec"]["template"]
                obj["metadata"].setdefault("annotations", {}).update(body["metadata"]["annotations"])
                return True

            self.api.mutate(object_path("apps/v1", "daemonsets", current), write)
        meta = service["metadata"]
        mine = [pod for pod in pods if (pod["metadata"].get("labels") or {}).get(SVC_NAME) == meta["name"]
                and (pod["metadata"].get("labels") or {}).get(SVC_NAMESPACE) == meta["namespace"]]
        wanted = ingress(mine, nodes)
        if ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress", []) != wanted:
            def status(obj: Obj) -> bool:
                obj.setdefault("status", {})["loadBalancer"] = {"ingress": wanted} if wanted else {}
                return True

            self.api.mutate(object_path("v1", "services", service, "status"), status)
