"""Legacy (non-aggregated) discovery documents: /version, /api, /api/v1, /apis, /apis/<group>[/<version>].

Upstream: kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/endpoints/discovery (legacy.go,
root.go, group.go, version.go) and, for /version, staging/src/k8s.io/apimachinery/pkg/version/types.go
(`Info`), whose gitVersion k3s sets to its own version (k3s-io/k3s pkg/version).

`registry` is the server's: built-in types and the custom resources its CRDs serve.

Example:
    discovery.resource_list(registry, "apps", "v1")  # APIResourceList for /apis/apps/v1
"""

from __future__ import annotations

import platform
from typing import Any

from k3s_standin import K3S_VERSION, release
from k3s_standin.apiserver.resources import ALL_VERBS, STATUS_VERBS, Registry, Resource

Obj = dict[str, Any]
SUBRESOURCE_KINDS = {"binding": ("", "v1", "Binding", ("create",)),
                     "eviction": ("policy", "v1", "Eviction", ("create",)),
                     "log": (None, None, None, ("get",)),
                     "scale": ("autoscaling", "v1", "Scale", STATUS_VERBS),
                     "status": (None, None, None, STATUS_VERBS)}


def version() -> Obj:
    """/version (k8s.io/apimachinery pkg/version Info): k3s sets gitVersion to its own version, so
    major/minor follow the version the stand-in was built with."""
    major, minor = K3S_VERSION.lstrip("v").split(".")[:2]
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {"major": major, "minor": minor, "gitVersion": K3S_VERSION, "gitCommit": release.GIT_COMMIT,
            "gitTreeState": "clean", "buildDate": "2024-12-10T00:00:00Z",
            "goVersion": release.GO_VERSION, "compiler": "gc", "platform": f"linux/{machine}"}


def api_versions(server_address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(name: str, versions: list[str]) -> Obj:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def group_list(registry: Registry) -> Obj:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(name, versions) for name, versions in registry.group_versions().items()]}


def group(registry: Registry, name: str) -> Obj | None:
    versions = registry.group_versions().get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _entry(resource: Resource) -> list[Obj]:
    verbs = ("create",) if resource.kind == "Binding" else ALL_VERBS
    main: Obj = {"name": resource.plural, "singularName": resource.singular,
                 "namespaced": resource.namespaced, "kind": resource.kind, "verbs": list(verbs)}
    if resource.short_names:
        main["shortNames"] = list(resource.short_names)
    if resource.categories:
        main["categories"] = list(resource.categories)
    entries = [main]
    for sub in resource.subresources:
        group_name, sub_version, kind, sub_verbs = SUBRESOURCE_KINDS[sub]
        entry: Obj = {"name": f"{resource.plural}/{sub}", "singularName": "",
                      "namespaced": resource.namespaced, "kind": kind or resource.kind,
                      "verbs": list(sub_verbs)}
        if group_name is not None:
            entry.update(group=group_name, version=sub_version)
        entries.append(entry)
    return entries


def resource_list(registry: Registry, group_name: str, version_name: str) -> Obj | None:
    resources = registry.in_group_version(group_name, version_name)
    if not resources:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group_name}/{version_name}" if group_name else version_name,
            "resources": [entry for resource in resources for entry in _entry(resource)]}
