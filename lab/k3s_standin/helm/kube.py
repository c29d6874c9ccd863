"""What helm's kube client does with a release's objects (helm pkg/kube/client.go, pkg/action/install.go,
upgrade.go, uninstall.go; k8s.io/cli-runtime pkg/resource/mapper.go): every object is mapped to a
served resource *before* anything is created, so one unknown kind fails the whole release with
helm's message; objects get helm's ownership metadata; they are created in helm's install order
(`releaseutil.InstallOrder`), an existing object owned by another release (or none) refuses the
install, and uninstall deletes in reverse order.

Example:
    objects = build(api, rendered, "cattle-system", "rancher"); create_or_update(api, objects, "rancher", "cattle-system")
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from k3s_standin.client import ApiError, Client, path
from k3s_standin.controllers.discovery import Resources, UnknownKind

Obj = dict[str, Any]

MANAGED_BY = "app.kubernetes.io/managed-by"
RELEASE_NAME = "meta.helm.sh/release-name"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
RESOURCE_POLICY = "helm.sh/resource-policy"
INSTALL_ORDER = ("Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
                 "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
                 "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
                 "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
                 "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
                 "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
                 "IngressClass", "Ingress", "APIService")


class HelmError(Exception):
    """A failed helm operation; the message is helm's, without the `Error: ... FAILED:` prefix."""


@dataclass
class Placed:
    obj: Obj
    collection: str
    url: str


def order(kind: str) -> int:
    return INSTALL_ORDER.index(kind) if kind in INSTALL_ORDER else len(INSTALL_ORDER)


def build(api: Client, objects: list[Obj], namespace: str, release: str) -> list[Placed]:
    """Map every object (fresh discovery, as helm's client is per run) and stamp helm's metadata."""
    resources = Resources(api)
    placed = []
    for original in objects:
        obj = copy.deepcopy(original)
        meta = obj.setdefault("metadata", {})
        try:
            plural, namespaced = resources.locate(obj.get("apiVersion", ""), obj.get("kind", ""))
        except UnknownKind as error:
            raise HelmError("unable to build kubernetes objects from release manifest: resource mapping not found "
                            f'for name: "{meta.get("name", "")}" namespace: "{meta.get("namespace", "")}" from "": '
                            f"{error}\nensure CRDs are installed first") from error
        if namespaced:
            meta["namespace"] = meta.get("namespace") or namespace
        meta["labels"] = dict(meta.get("labels") or {}, **{MANAGED_BY: "Helm"})
        meta["annotations"] = dict(meta.get("annotations") or {}, **{RELEASE_NAME: release,
                                                                     RELEASE_NAMESPACE: namespace})
        collection = path(obj["apiVersion"], plural, meta.get("namespace") if namespaced else None)
        placed.append(Placed(obj, collection, f"{collection}/{meta['name']}"))
    return sorted(placed, key=lambda item: order(item.obj["kind"]))


def ownership_error(current: Obj, placed: Placed, release: str, namespace: str) -> str:
    meta = current["metadata"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    problems = []
    if labels.get(MANAGED_BY) != "Helm":
        problems.append(f'label validation error: missing key "{MANAGED_BY}": must be set to "Helm"')
    for key, wanted in ((RELEASE_NAME, release), (RELEASE_NAMESPACE, namespace)):
        if annotations.get(key) != wanted:
            problems.append(f'annotation validation error: missing key "{key}": must be set to "{wanted}"'
                            if key not in annotations else
                            f'annotation validation error: key "{key}" must equal "{wanted}": '
                            f'current value is "{annotations[key]}"')
    where = f' in namespace "{meta["namespace"]}"' if meta.get("namespace") else ""
    return (f"rendered manifests contain a resource that already exists. Unable to continue with install: "
            f'{placed.obj["kind"]} "{meta["name"]}"{where} exists and cannot be imported into the current '
            f"release: invalid ownership metadata; {'; '.join(problems)}")


def owned(current: Obj, release: str, namespace: str) -> bool:
    annotations = current["metadata"].get("annotations") or {}
    return annotations.get(RELEASE_NAME) == release and annotations.get(RELEASE_NAMESPACE) == namespace


def updated(current: Obj, wanted: Obj) -> Obj:
    """The wanted object over the live one, keeping what the server and controllers own."""
    result = copy.deepcopy(wanted)
    result["metadata"] = dict(current["metadata"], labels=wanted["metadata"]["labels"],
                              annotations=wanted["metadata"]["annotations"])
    if "status" in current:
        result["status"] = current["status"]
    if current.get("kind") == "Service":
        for key in ("clusterIP", "clusterIPs"):
            if current.get("spec", {}).get(key):
                result.setdefault("spec", {})[key] = current["spec"][key]
    return result


def create_or_update(api: Client, placed: list[Placed], release: str, namespace: str, upgrade: bool) -> None:
    """Create the release's objects; objects it already owns are updated."""
    for item in placed:
        current = api.find(item.url)
        try:
            if current is None:
                api.create(item.collection, item.obj)
            elif owned(current, release, namespace):
                api.update(item.url, updated(current, item.obj))
            else:
                raise HelmError(ownership_error(current, item, release, namespace))
        except ApiError as error:
            message = error.status.get("message") or str(error)
            raise HelmError(f"failed to create resource: {message}" if upgrade else message) from error


def delete(api: Client, placed: list[Placed]) -> list[str]:
    """Delete in reverse install order (helm's UninstallOrder); returns what was deleted, as
    `kind/name`, leaving objects annotated `helm.sh/resource-policy: keep`."""
    deleted = []
    for item in reversed(placed):
        if (item.obj["metadata"].get("annotations") or {}).get(RESOURCE_POLICY) == "keep":
            continue
        if api.delete(item.url) is not None:
            deleted.append(f"{item.obj['kind']}/{item.obj['metadata']['name']}")
    return deleted
