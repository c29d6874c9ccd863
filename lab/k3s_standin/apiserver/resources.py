"""The resource types the stand-in serves: group, version, kind, plural, scope and subresources.

Example:
    resource = REGISTRY.lookup("apps", "v1", "deployments")
    resource.api_version  # "apps/v1"
"""

from __future__ import annotations

import dataclasses

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
             ("binding", "eviction", "status"), fields=POD_FIELDS),
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
    Resource("helm.cattle.io", "v1", "HelmChart", "helmcharts", True, (), (), ("status",),
             builtin=False, generation=True, always=()),
    Resource("helm.cattle.io", "v1", "HelmChartConfig", "helmchartconfigs", True, (), (), (),
             builtin=False, generation=True, always=()),
)

# groups in the order /apis lists them; preferred version is the only version
GROUP_ORDER = ("apps", "batch", "coordination.k8s.io", "discovery.k8s.io",
               "helm.cattle.io")


class Registry:
    """Lookup of resources by (group, version, plural)."""

    def __init__(self, resources: tuple[Resource, ...]) -> None:
        self.resources = resources
        self._by_path = {(r.group, r.version, r.plural): r for r in resources}

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def group_versions(self) -> dict[str, list[str]]:
        versions: dict[str, list[str]] = {}
        for resource in self.resources:
            if resource.group:
                versions.setdefault(resource.group, [])
                if resource.version not in versions[resource.group]:
                    versions[resource.group].append(resource.version)
        return {group: versions[group] for group in GROUP_ORDER if group in versions}

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources if r.group == group and r.version == version]


REGISTRY = Registry(RESOURCES)
