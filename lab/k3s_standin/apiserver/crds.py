"""CustomResourceDefinitions: what a CRD makes the server serve, and the CRD's own defaults,
validation and status.

Upstream: kubernetes/kubernetes staging/src/k8s.io/apiextensions-apiserver -
pkg/apiserver/customresource_handler.go (a CRD's served versions become resources; storage under
`/registry/<group>/<plural>`), pkg/controller/status/naming_controller.go (`NamesAccepted`,
reason `NoConflicts`, message "no conflicts found"; `acceptedNames`), pkg/controller/establish
(`Established`, reason `InitialNamesAccepted`, message "the initial names have been accepted"),
pkg/registry/customresourcedefinition/etcd.go (a deleted CRD gets the
`customresourcecleanup.apiextensions.k8s.io` finalizer and the `Terminating` condition until its
objects are gone: pkg/controller/finalizer/crd_finalizer.go), pkg/apis/apiextensions/validation.

The naming and establishing controllers run in the stand-in at write time: a CRD is accepted and
Established as soon as it is stored (real apiserver: within a few milliseconds on one server).
Name conflicts between CRDs and conversion webhooks are not modelled; several served versions
share one storage key and objects keep the apiVersion they were written with.

Example:
    custom = CustomResources(store)
    registry = Registry(RESOURCES, custom.resources)
    registry.lookup("cert-manager.io", "v1", "issuers")   # a Resource once the Issuer CRD is stored
"""

from __future__ import annotations

import datetime
from typing import Any

from k3s_standin.apiserver.errors import invalid
from k3s_standin.apiserver.resources import Resource
from k3s_standin.apiserver.store import Store

Obj = dict[str, Any]
GROUP = "apiextensions.k8s.io"
STORAGE_KEY = f"{GROUP}/customresourcedefinitions"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
SCOPES = ("Namespaced", "Cluster")
# apiextensions' tableconvertor: without additionalPrinterColumns a custom resource prints its age
DEFAULT_COLUMNS = (("Age", "date", ".metadata.creationTimestamp", 0, ""),)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def resources_of(crd: Obj) -> tuple[Resource, ...]:
    """The resources one CRD serves: one per served version, named by its accepted names.

    Example:
        resources_of(issuer_crd)[0].api_version  # "cert-manager.io/v1"
    """
    if not _names(crd).get("plural") or not _names(crd).get("kind"):
        return ()
    return tuple(_resource(crd, v) for v in crd["spec"].get("versions") or [] if v.get("served"))


def storage_resource(crd: Obj) -> Resource:
    """The resource of the CRD's storage version, served or not: how its objects are stored."""
    versions = crd["spec"].get("versions") or [{}]
    return _resource(crd, next((v for v in versions if v.get("storage")), versions[0]))


def _names(crd: Obj) -> Obj:
    return (crd.get("status") or {}).get("acceptedNames") or (crd.get("spec") or {}).get("names") or {}


def _resource(crd: Obj, version: Obj) -> Resource:
    spec, names = crd["spec"], _names(crd)
    columns = tuple((c.get("name", ""), c.get("type", "string"), c.get("jsonPath", ""),
                     int(c.get("priority", 0)), c.get("description", ""))
                    for c in version.get("additionalPrinterColumns") or []) or DEFAULT_COLUMNS
    subresources = ("status",) if "status" in (version.get("subresources") or {}) else ()
    return Resource(spec.get("group", ""), version.get("name", ""), names.get("kind", ""),
                    names.get("plural", ""), spec.get("scope") != "Cluster",
                    tuple(names.get("shortNames") or ()), tuple(names.get("categories") or ()), subresources,
                    builtin=False, generation=True, always=(), columns=columns)


class CustomResources:
    """The resources of the CRDs in the store, rebuilt when a CRD changes.

    Reads the store's cache without a consistent read: it is a routing table, and the verb that
    uses it reads (and, for writes, compares) its object consistently itself.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._versions: tuple[str, ...] = ()
        self._resources: tuple[Resource, ...] = ()

    def resources(self) -> tuple[Resource, ...]:
        crds = self.store.cached_items(STORAGE_KEY)
        versions = tuple(crd["metadata"]["resourceVersion"] for crd in crds)
        if versions != self._versions:
            self._resources = tuple(r for crd in crds for r in resources_of(crd))
            self._versions = versions
        return self._resources


def admit_create(crd: Obj) -> None:
    """Defaults and validation of a new CRD, then the status its controllers would write."""
    _default(crd)
    _validate(crd)
    crd["status"] = _status(crd, {})


def admit_update(old: Obj, crd: Obj) -> None:
    """A changed spec is accepted again; storedVersions only grows."""
    _default(crd)
    _validate(crd)
    crd["status"] = _status(crd, old.get("status") or {})


def terminating(crd: Obj) -> Obj:
    """The CRD as its deletion leaves it until its objects are gone (etcd.go `Delete`)."""
    meta = crd["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if CLEANUP_FINALIZER not in finalizers:
        finalizers.append(CLEANUP_FINALIZER)
    status = dict(crd.get("status") or {})
    status["conditions"] = _set_condition(status.get("conditions") or [], {
        "type": "Terminating", "status": "True", "reason": "InstanceDeletionInProgress",
        "message": "CustomResource deletion is in progress"})
    return {**crd, "metadata": {**meta, "deletionTimestamp": meta.get("deletionTimestamp") or _now(),
                                "deletionGracePeriodSeconds": 0, "finalizers": finalizers},
            "status": status}


def cleaned_up(crd: Obj) -> Obj:
    """The CRD once the finalizer controller deleted its objects: its finalizer removed."""
    meta = crd["metadata"]
    finalizers = [f for f in meta.get("finalizers") or [] if f != CLEANUP_FINALIZER]
    return {**crd, "metadata": {**meta, "finalizers": finalizers}}


def is_terminating(crd: Obj | None) -> bool:
    return bool(crd and crd["metadata"].get("deletionTimestamp"))


def crd_name(resource: Resource) -> str:
    return f"{resource.plural}.{resource.group}"


def _default(crd: Obj) -> None:
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", f"{names['kind']}List")
    spec.setdefault("conversion", {"strategy": "None"})


def _validate(crd: Obj) -> None:
    spec, name = crd["spec"], crd["metadata"]["name"]
    names = spec["names"]
    causes = []
    if name != f"{names.get('plural', '')}.{spec.get('group', '')}":
        causes.append(("metadata.name", "FieldValueInvalid",
                       f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    if spec.get("scope") not in SCOPES:
        causes.append(("spec.scope", "FieldValueNotSupported",
                       f'Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", "Namespaced"'))
    for field in ("plural", "kind"):
        if not names.get(field):
            causes.append((f"spec.names.{field}", "FieldValueRequired", "Required value"))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(("spec.versions", "FieldValueRequired", "Required value: must have exactly one version "
                       "marked as storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: must have exactly one version "
                       "marked as storage version"))
    if causes:
        raise invalid("CustomResourceDefinition", GROUP, name, causes)


def _status(crd: Obj, old_status: Obj) -> Obj:
    names = {k: v for k, v in crd["spec"]["names"].items()
             if k in ("plural", "singular", "shortNames", "kind", "listKind", "categories")}
    conditions = old_status.get("conditions") or []
    for condition in ({"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                       "message": "no conflicts found"},
                      {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                       "message": "the initial names have been accepted"}):
        conditions = _set_condition(conditions, condition)
    storage = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
    stored = list(old_status.get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)
    return {"conditions": conditions, "acceptedNames": names, "storedVersions": stored}


def _set_condition(conditions: list[Obj], condition: Obj) -> list[Obj]:
    """Replace the condition of its type, keeping lastTransitionTime when the status did not change."""
    old = next((c for c in conditions if c.get("type") == condition["type"]), None)
    changed = old is None or old.get("status") != condition["status"]
    updated = {**condition, "lastTransitionTime": _now() if changed else old.get("lastTransitionTime")}
    return [c for c in conditions if c.get("type") != condition["type"]] + [updated]
