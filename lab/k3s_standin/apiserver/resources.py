"""The resource types the stand-in serves: group, version, kind, plural, scope and subresources.

`REGISTRY` holds the built-in types; a server's `Registry` adds the custom resources its
CustomResourceDefinitions define (`crds.py`), so both go through the same routing, discovery,
OpenAPI and table paths, as kube-apiserver delegates unknown groups to apiextensions-apiserver
(kubernetes/kubernetes staging/src/k8s.io/apiextensions-apiserver).

Example:
    resource = REGISTRY.lookup("apps", "v1", "deployments")
    resource.api_version  # "apps/v1"
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclasses.dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # built-in types accept strategic merge patch; custom resources (helm.cattle.io) do not
    builtin: bool = True
    # metadata.generation follows spec changes
    generation: bool = False
    allow_create_on_update: bool = False
    # fields usable in fieldSelector besides metadata.name / metadata.namespace
    fields: tuple[str, ...] = ()
    # struct-typed top-level fields that Go always serializes, even when empty
    always: tuple[str, ...] = ("spec", "status")
    # a custom resource's additionalPrinterColumns as (name, type, jsonPath, priority, description);
    # None for built-in types, whose columns are the server's own printers (tables.py)
    columns: tuple[tuple[str, str, str, int, str], ...] | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def key(self) -> str:
        """Stable storage key, e.g. `apps/deployments` or `/nodes`."""
        return f"{self.group}/{self.plural}"

    @property
    def from_crd(self) -> bool:
        """Served because a CustomResourceDefinition defines it (`crds.py`)."""
        return self.columns is not None

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


EVENT_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type")
POD_FIELDS = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
              "status.nominatedNodeName")

RESOURCES = (
    Resource("", "v1", "Namespace", "namespaces", False, ("ns",), subresources=("status",),
             fields=("status.phase",)),
    Resource("", "v1", "Node", "nodes", False, ("no",), subresources=("status",),
             fields=("spec.unschedulable",)),
    Resource("", "v1", "Pod", "pods", True, ("po",), ("all",),
             ("binding", "eviction", "log", "status"), fields=POD_FIELDS),
    Resource("", "v1", "Binding", "bindings", True, always=()),
    Resource("", "v1", "Service", "services", True, ("svc",), ("all",), ("status",)),
    Resource("", "v1", "Endpoints", "endpoints", True, ("ep",), allow_create_on_update=True, always=()),
    Resource("", "v1", "Event", "events", True, ("ev",), fields=EVENT_FIELDS, always=()),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",), always=()),
    Resource("", "v1", "Secret", "secrets", True, fields=("type",), always=()),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), always=()),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True, always=("spec",)),
    Resource("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("all",), ("scale", "status"),
             generation=True),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ("all",), ("scale", "status"),
             generation=True, fields=("status.replicas",)),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ("all",), ("status",),
             generation=True),
    Resource("batch", "v1", "Job", "jobs", True, (), ("all",), ("status",), generation=True,
             fields=("status.successful",)),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, always=()),
    Resource("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), (), ("status",),
             generation=True),
    Resource("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, always=("spec",)),
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), (),
             ("status",), generation=True),
    Resource("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
             "mutatingwebhookconfigurations", False, (), ("api-extensions",), generation=True, always=()),
    Resource("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
             "validatingwebhookconfigurations", False, (), ("api-extensions",), generation=True, always=()),
    Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
             ("crd", "crds"), ("api-extensions",), ("status",), generation=True),
    Resource("helm.cattle.io", "v1", "HelmChart", "helmcharts", True, (), (), ("status",),
             builtin=False, generation=True, always=()),
    Resource("helm.cattle.io", "v1", "HelmChartConfig", "helmchartconfigs", True, (), (), (),
             builtin=False, generation=True, always=()),
)

# built-in groups in the order /apis lists them (kube-apiserver's group priorities,
# pkg/controlplane/apiserver/options and aggregator's apiservice priorities); custom groups follow,
# sorted by name, as CRD groups all share one priority
GROUP_ORDER = ("apps", "batch", "networking.k8s.io", "policy", "admissionregistration.k8s.io",
               "apiextensions.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "helm.cattle.io")


class Registry:
    """Lookup of resources by (group, version, plural) or kind; `custom` adds the resources served
    from CustomResourceDefinitions at the time of the call."""

    def __init__(self, builtins: tuple[Resource, ...],
                 custom: Callable[[], tuple[Resource, ...]] = tuple) -> None:
        self.builtins = builtins
        self.custom = custom
        self._by_path = {(r.group, r.version, r.plural): r for r in builtins}

    @property
    def resources(self) -> tuple[Resource, ...]:
        return self.builtins + self.custom()

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        found = self._by_path.get((group, version, plural))
        if found:
            return found
        return next((r for r in self.custom() if (r.group, r.version, r.plural) == (group, version, plural)),
                    None)

    def stored(self) -> list[Resource]:
        """One resource per storage key (a custom resource served in several versions is stored once)."""
        return list({r.key: r for r in reversed(self.resources)}.values())[::-1]

    def group_versions(self) -> dict[str, list[str]]:
        versions: dict[str, list[str]] = {}
        for resource in self.resources:
            if resource.group:
                versions.setdefault(resource.group, [])
                if resource.version not in versions[resource.group]:
                    versions[resource.group].append(resource.version)
        order = [g for g in GROUP_ORDER if g in versions] + sorted(set(versions) - set(GROUP_ORDER))
        return {group: versions[group] for group in order}

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources if r.group == group and r.version == version]


REGISTRY = Registry(RESOURCES)
