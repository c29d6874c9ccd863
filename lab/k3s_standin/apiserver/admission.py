"""Defaulting, validation and allocation the API server applies before storing an object.

Covers what clients observe from kube-apiserver: pod and workload defaults, the DefaultTolerationSeconds
admission plugin, Service cluster IP (service CIDR) and node port (30000-32767) allocation, namespace
labels, the name rules that answer 422 Invalid, CustomResourceDefinitions (`crds.py`) and webhook
configuration defaults (`webhooks.py`). Custom resources get only the name rules: their kinds may
share a built-in kind's name.

Example:
    admit = Admission(options.service_cidr, {"default-not-ready-toleration-seconds": "60"})
    admit.on_create(resource, pod, store)
"""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Iterable
from typing import Any

from k3s_standin.apiserver import crds, webhooks
from k3s_standin.apiserver.errors import ApiError, invalid
from k3s_standin.apiserver.resources import Resource

Obj = dict[str, Any]
NODE_PORT_RANGE = (30000, 32767)
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"


class Admission:
    """Per-kind admission; `services` is how allocators see which IPs and ports are taken."""

    def __init__(self, service_cidr: str, apiserver_args: dict[str, str]) -> None:
        self.service_network = ipaddress.ip_network(service_cidr, strict=False)
        self.not_ready_seconds = int(apiserver_args.get("default-not-ready-toleration-seconds", "300"))
        self.unreachable_seconds = int(apiserver_args.get("default-unreachable-toleration-seconds", "300"))

    def on_create(self, resource: Resource, obj: Obj, services: Iterable[Obj]) -> None:
        _validate_name(resource, obj)
        if resource.from_crd:
            return
        handler = getattr(self, f"_create_{resource.kind.lower()}", None)
        if handler:
            handler(obj, list(services))

    def on_update(self, resource: Resource, old: Obj, new: Obj, services: Iterable[Obj]) -> None:
        if resource.kind == "Service" and resource.group == "":
            self._update_service(old, new, [s for s in services
                                            if s["metadata"]["uid"] != old["metadata"]["uid"]])
        elif resource.from_crd:
            return
        elif resource.kind in ("Deployment", "DaemonSet", "ReplicaSet", "Job"):
            _default_pod_spec(new.get("spec", {}).get("template", {}).get("spec", {}))
        elif resource.kind == "CustomResourceDefinition":
            crds.admit_update(old, new)
        elif resource.kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            webhooks.default_configuration(new, resource.kind.startswith("Mutating"))

    def _create_namespace(self, obj: Obj, services: list[Obj]) -> None:
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}

    def _create_pod(self, obj: Obj, services: list[Obj]) -> None:
        spec = obj.setdefault("spec", {})
        if not spec.get("containers"):
            raise invalid("Pod", "", obj["metadata"]["name"],
                          [("spec.containers", "FieldValueRequired", "Required value")])
        _default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("priority", 0)
        self._default_tolerations(spec)
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}

    def _default_tolerations(self, spec: Obj) -> None:
        """DefaultTolerationSeconds: tolerate not-ready/unreachable NoExecute for a while, then evict."""
        tolerations = spec.setdefault("tolerations", [])
        for key, seconds in ((NOT_READY, self.not_ready_seconds), (UNREACHABLE, self.unreachable_seconds)):
            if not any(_tolerates(toleration, key) for toleration in tolerations):
                tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": seconds})

    def _create_service(self, obj: Obj, services: list[Obj]) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] != "ExternalName":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if spec["type"] == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        _default_service_ports(spec)
        obj.setdefault("status", {}).setdefault("loadBalancer", {})
        name = obj["metadata"]["name"]
        self._allocate_cluster_ip(name, spec, services)
        _allocate_node_ports(name, spec, services)

    def _update_service(self, old: Obj, new: Obj, services: list[Obj]) -> None:
        spec, old_spec = new.setdefault("spec", {}), old.get("spec", {})
        spec.setdefault("type", "ClusterIP")
        name = new["metadata"]["name"]
        if spec["type"] != "ExternalName":
            for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if field in old_spec:
                    spec.setdefault(field, old_spec[field])
            if spec.get("clusterIP") != old_spec.get("clusterIP") and old_spec.get("clusterIP"):
                raise invalid("Service", "", name, [("spec.clusterIPs[0]", "FieldValueInvalid",
                                                     "Invalid value: field is immutable")])
        _default_service_ports(spec)
        if spec["type"] in ("NodePort", "LoadBalancer"):
            old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                         for p in old_spec.get("ports", [])}
            for port in spec.get("ports", []):
                if not port.get("nodePort") and old_ports.get((port.get("port"), port["protocol"])):
                    port["nodePort"] = old_ports[(port.get("port"), port["protocol"])]
            spec.setdefault("externalTrafficPolicy", "Cluster")
        else:
            for port in spec.get("ports", []):
                port.pop("nodePort", None)
            spec.pop("externalTrafficPolicy", None)
        self._allocate_cluster_ip(name, spec, services)
        _allocate_node_ports(name, spec, services)

    def _allocate_cluster_ip(self, name: str, spec: Obj, services: list[Obj]) -> None:
        if spec["type"] == "ExternalName" or spec.get("clusterIP") == "None":
            if spec.get("clusterIP") == "None":
                spec["clusterIPs"] = ["None"]
            return
        used = {s.get("spec", {}).get("clusterIP") for s in services}
        requested = spec.get("clusterIP") or ""
        if requested:
            try:
                inside = ipaddress.ip_address(requested) in self.service_network
            except ValueError:
                inside = False
            if not inside:
                raise invalid("Service", "", name, [(
                    "spec.clusterIPs", "FieldValueInvalid",
                    f"Invalid value: []string{{\"{requested}\"}}: failed to allocate IP {requested}: "
                    f"the provided IP ({requested}) is not in the valid range. The range of valid IPs "
                    f"is {self.service_network}")])
            spec["clusterIPs"] = [requested]
            return
        hosts = self.service_network.num_addresses - 2
        for _ in range(1000):
            candidate = str(self.service_network.network_address + random.randint(2, hosts))
            if candidate not in used:
                spec["clusterIP"] = candidate
                spec["clusterIPs"] = [candidate]
                return
        raise ApiError(500, "InternalError", "Internal error occurred: range is full")

    def _create_deployment(self, obj: Obj, services: list[Obj]) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        if not (spec.get("strategy") or {}).get("type"):
            spec["strategy"] = {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _default_workload(obj, "Deployment")

    def _create_replicaset(self, obj: Obj, services: list[Obj]) -> None:
        obj.setdefault("spec", {}).setdefault("replicas", 1)
        _default_workload(obj, "ReplicaSet")

    def _create_daemonset(self, obj: Obj, services: list[Obj]) -> None:
        spec = obj.setdefault("spec", {})
        if not (spec.get("updateStrategy") or {}).get("type"):
            spec["updateStrategy"] = {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
        spec.setdefault("revisionHistoryLimit", 10)
        _default_workload(obj, "DaemonSet")

    def _create_job(self, obj: Obj, services: list[Obj]) -> None:
        spec = obj.setdefault("spec", {})
        for field, value in (("parallelism", 1), ("completions", 1), ("backoffLimit", 6),
                             ("completionMode", "NonIndexed"), ("suspend", False)):
            spec.setdefault(field, value)
        if not spec.get("selector"):
            uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
            labels.update({"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                           "batch.kubernetes.io/job-name": name, "job-name": name})
        _default_pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))
        obj.setdefault("status", {})

    def _create_ingress(self, obj: Obj, services: list[Obj]) -> None:
        """IngressStatus.loadBalancer is a struct: Go always serializes it."""
        obj["status"] = {"loadBalancer": {}}

    def _create_customresourcedefinition(self, obj: Obj, services: list[Obj]) -> None:
        crds.admit_create(obj)

    def _create_mutatingwebhookconfiguration(self, obj: Obj, services: list[Obj]) -> None:
        webhooks.default_configuration(obj, mutating=True)

    def _create_validatingwebhookconfiguration(self, obj: Obj, services: list[Obj]) -> None:
        webhooks.default_configuration(obj, mutating=False)

    def _create_secret(self, obj: Obj, services: list[Obj]) -> None:
        import base64

        obj.setdefault("type", "Opaque")
        for key, value in (obj.pop("stringData", None) or {}).items():
            obj.setdefault("data", {})[key] = base64.b64encode(str(value).encode()).decode()


def _qos_class(spec: Obj) -> str:
    resources = [c.get("resources") or {} for c in spec.get("containers", [])]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(r.get("limits", {}).get(name) and
                     r.get("requests", {}).get(name, r["limits"][name]) == r["limits"][name]
                     for r in resources for name in ("cpu", "memory"))
    return "Guaranteed" if guaranteed else "Burstable"


def _tolerates(toleration: Obj, key: str) -> bool:
    if toleration.get("effect") not in (None, "", "NoExecute"):
        return False
    if toleration.get("operator") == "Exists" and not toleration.get("key"):
        return True
    return toleration.get("key") == key


def _validate_name(resource: Resource, obj: Obj) -> None:
    name = obj["metadata"]["name"]
    if resource.kind == "Namespace" or (resource.kind == "Service" and resource.group == ""):
        pattern, limit, what = (DNS_LABEL if resource.kind == "Namespace" else DNS_1035_LABEL), 63, (
            "a lowercase RFC 1123 label" if resource.kind == "Namespace" else "a DNS-1035 label")
    else:
        pattern, limit, what = DNS_SUBDOMAIN, 253, "a lowercase RFC 1123 subdomain"
    if len(name) > limit or not pattern.fullmatch(name):
        raise invalid(resource.kind, resource.group, name, [(
            "metadata.name", "FieldValueInvalid", f"Invalid value: \"{name}\": must be {what}")])


def _default_service_ports(spec: Obj) -> None:
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))


def _allocate_node_ports(name: str, spec: Obj, services: list[Obj]) -> None:
    if spec["type"] not in ("NodePort", "LoadBalancer") or spec.get("allocateLoadBalancerNodePorts") is False:
        return
    used = {port.get("nodePort") for service in services for port in service.get("spec", {}).get("ports", [])}
    low, high = NODE_PORT_RANGE
    for index, port in enumerate(spec.get("ports") or []):
        requested = port.get("nodePort")
        field = f"spec.ports[{index}].nodePort"
        if requested:
            if not low <= int(requested) <= high:
                raise invalid("Service", "", name, [(field, "FieldValueInvalid", (
                    f"Invalid value: {requested}: provided port is not in the valid range. "
                    f"The range of valid ports is {low}-{high}"))])
            if requested in used:
                raise invalid("Service", "", name, [(field, "FieldValueInvalid",
                                                    f"Invalid value: {requested}: provided port is "
                                                    "already allocated")])
        else:
            free = [candidate for candidate in range(low, high + 1) if candidate not in used]
            port["nodePort"] = random.choice(free)
        used.add(port["nodePort"])


def _default_workload(obj: Obj, kind: str) -> None:
    spec = obj["spec"]
    template = spec.setdefault("template", {})
    _default_pod_spec(template.setdefault("spec", {}))
    if not spec.get("selector"):
        raise invalid(kind, "apps", obj["metadata"]["name"],
                      [("spec.selector", "FieldValueRequired", "Required value")])
    obj.setdefault("status", {})


def _default_pod_spec(spec: Obj) -> None:
    """The pod-spec defaults kube-apiserver fills in (visible in `kubectl get -o yaml`)."""
    for field, value in (("restartPolicy", "Always"), ("dnsPolicy", "ClusterFirst"),
                         ("schedulerName", "default-scheduler"), ("terminationGracePeriodSeconds", 30),
                         ("securityContext", {}), ("enableServiceLinks", True)):
        spec.setdefault(field, value)
    if spec.get("serviceAccountName") or spec.get("serviceAccount"):
        spec.setdefault("serviceAccountName", spec.get("serviceAccount"))
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
    for container in spec.get("containers") or []:
        image = str(container.get("image", ""))
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")
