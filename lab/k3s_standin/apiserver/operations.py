"""The API verbs with kube-apiserver semantics: create, get, list, update, patch, delete, bind (eviction,
which asks PodDisruptionBudgets first, is `eviction.py`).

Upstream: kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go
(the generic registry's Create/Update/Delete, preconditions, graceful deletion, finalizers) and
pkg/registry/core/pod/storage/storage.go (the Binding subresource).

Covers metadata handling (uid, creationTimestamp, generation, generateName), the status subresource
split, resourceVersion preconditions (409), namespace lifecycle, finalizers, graceful pod deletion
(pods on a node get a deletionTimestamp and are removed once the kubelet deletes them with grace 0)
and cascading deletion of dependents through ownerReferences (the garbage collector's effect).
Admission webhooks (`webhooks.py`) run on create, update and delete requests. A deleted
CustomResourceDefinition takes its objects with it (`crds.py`), and its resources refuse creates while
it terminates: "create not allowed while custom resource definition is terminating"
(apiextensions-apiserver pkg/apiserver/customresource_handler.go).

Example:
    api = Operations(store, admission)
    api.create(REGISTRY.lookup("", "v1", "nodes"), "", {"metadata": {"name": "k3s-worker-1"}})
"""

from __future__ import annotations

import copy
import datetime
import random
import uuid
from typing import Any

from k3s_standin.apiserver import crds, errors, webhooks
from k3s_standin.apiserver.admission import Admission
from k3s_standin.apiserver.patch import STRATEGIC, apply_patch
from k3s_standin.apiserver.resources import REGISTRY, RESOURCES, Registry, Resource
from k3s_standin.apiserver.selectors import parse_fields, parse_labels
from k3s_standin.apiserver.store import Store

Obj = dict[str, Any]
NAMESPACES = REGISTRY.lookup("", "v1", "namespaces")
SERVICES = REGISTRY.lookup("", "v1", "services")
PODS = REGISTRY.lookup("", "v1", "pods")
CRDS = REGISTRY.lookup(crds.GROUP, "v1", "customresourcedefinitions")
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SERVER_MANAGED = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation", "selfLink")


def now(offset_seconds: int = 0) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def success(resource: Resource, obj: Obj, code: int | None = None) -> Obj:
    """The `Status` a DELETE or a subresource POST answers with when it returns no object."""
    details: Obj = {"name": obj["metadata"]["name"]}
    if resource.group:
        details["group"] = resource.group
    details.update(kind=resource.plural, uid=obj["metadata"].get("uid", ""))
    status: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                   "details": details}
    if code:
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}
    return status


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class Operations:
    """All writes go through here, under the store's lock, so each verb is atomic."""

    def __init__(self, store: Store, admission: Admission) -> None:
        self.store = store
        self.admission = admission
        self.registry = Registry(RESOURCES, crds.CustomResources(store).resources)

    # reads

    def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        obj = self.store.get(resource.key, namespace if resource.namespaced else "", name)
        if obj is None:
            raise errors.not_found(resource.plural, resource.group, name)
        return obj

    def list(self, resource: Resource, namespace: str, label_selector: str = "",
             field_selector: str = "") -> tuple[list[Obj], int]:
        labels = parse_labels(label_selector)
        fields = parse_fields(field_selector, resource.fields, resource.kind)
        items, revision = self.store.items(resource.key, namespace if resource.namespaced else "")
        return [obj for obj in items
                if labels(obj["metadata"].get("labels") or {}) and fields(obj)], revision

    # writes

    def create(self, resource: Resource, namespace: str, body: Any, dry_run: bool = False) -> Obj:
        """Store a new object; ``dry_run`` (``?dryRun=All``) runs every check and admission, webhooks
        included, and answers the object without storing it (k8s.io/apiserver
        pkg/endpoints/handlers/create.go: dry-run skips only the storage write)."""
        obj = self._checked_body(resource, namespace, body)
        meta = obj["metadata"]
        with self.store.lock:
            if resource.from_crd and crds.is_terminating(self.store.get(CRDS.key, "", crds.crd_name(resource))):
                raise errors.ApiError(405, "MethodNotAllowed", "create not allowed while custom resource "
                                      "definition is terminating", {"group": resource.group,
                                                                    "kind": resource.plural})
            if resource.namespaced:
                self._require_namespace(meta["namespace"])
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = self._generated_name(resource, meta)
            if not meta.get("name"):
                raise errors.invalid(resource.kind, resource.group, "", [
                    ("metadata.name", "FieldValueRequired",
                     "Required value: name or generateName is required")])
            if self.store.get(resource.key, meta.get("namespace", ""), meta["name"]) is not None:
                raise errors.already_exists(resource.plural, resource.group, meta["name"])
            for field in SERVER_MANAGED + ("resourceVersion", "managedFields"):
                meta.pop(field, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            if resource.generation:
                meta["generation"] = 1
            if resource.has_status and resource.kind != "Node":
                obj.pop("status", None)
            self.admission.on_create(resource, obj, self._services())
            webhooks.admit(self.store, "CREATE", resource, "", meta.get("namespace", ""), obj, None)
            _fill_struct_fields(resource, obj)
            if dry_run:
                return obj
            return self.store.put(resource.key, obj, "ADDED")

    def update(self, resource: Resource, namespace: str, name: str, body: Any,
               subresource: str = "") -> Obj:
        new = self._checked_body(resource, namespace, body)
        if new["metadata"].get("name") != name:
            raise errors.bad_request(f"the name of the object ({new['metadata'].get('name')}) does not "
                                     f"match the name on the URL ({name})")
        with self.store.lock:
            old = self.store.get(resource.key, new["metadata"].get("namespace", ""), name)
            if old is None:
                if resource.allow_create_on_update and not subresource:
                    return self.create(resource, namespace, new)
                raise errors.not_found(resource.plural, resource.group, name)
            return self._replace(resource, old, new, subresource)

    def patch(self, resource: Resource, namespace: str, name: str, patch: Any, content_type: str,
              subresource: str = "") -> Obj:
        if content_type == STRATEGIC and not resource.builtin:
            raise errors.unsupported_media_type(["application/json-patch+json",
                                                 "application/merge-patch+json",
                                                 "application/apply-patch+yaml"])
        with self.store.lock:
            old = self.get(resource, namespace, name)
            # the patch result shares untouched parts with the stored object, which must stay as it is
            patched = copy.deepcopy(apply_patch(old, patch, content_type, resource.kind))
            if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
                raise errors.bad_request("the patch removed the object's metadata")
            patched["metadata"]["name"] = name
            return self._replace(resource, old, patched, subresource)

    def _replace(self, resource: Resource, old: Obj, new: Obj, subresource: str) -> Obj:
        meta, old_meta = new["metadata"], old["metadata"]
        name = old_meta["name"]
        if meta.get("resourceVersion") and meta["resourceVersion"] != old_meta["resourceVersion"]:
            raise errors.modified(resource.plural, resource.group, name)
        if subresource == "status":
            new = {**copy.deepcopy(old), "status": new.get("status", {})}
        else:
            for field in SERVER_MANAGED:
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            meta.pop("managedFields", None)
            if resource.has_status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            if resource.generation and _spec_of(new) != _spec_of(old):
                meta["generation"] = int(old_meta.get("generation", 1)) + 1
            self.admission.on_update(resource, old, new, self._services())
        _fill_struct_fields(resource, new)
        meta = new["metadata"]
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if new == old:
            return old
        webhooks.admit(self.store, "UPDATE", resource, subresource, old_meta.get("namespace", ""), new, old)
        # the last finalizer of a terminating object is gone: the deletion completes now
        if meta.get("deletionTimestamp") and old_meta.get("finalizers") and not meta.get("finalizers") \
                and not _awaits_kubelet(resource, new):
            return self._remove(resource, new)
        return self.store.put(resource.key, new, "MODIFIED")

    def delete(self, resource: Resource, namespace: str, name: str, options: Obj) -> Obj:
        """Delete or start deleting; returns the object (pods, or when still terminating) or a Status."""
        if resource is NAMESPACES and name in PROTECTED_NAMESPACES:
            raise errors.ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace '
                                  "may not be deleted", {"name": name, "kind": "namespaces"})
        with self.store.lock:
            old = self.get(resource, namespace, name)
            preconditions = options.get("preconditions") or {}
            if preconditions.get("uid") and preconditions["uid"] != old["metadata"]["uid"]:
                raise errors.conflict(resource.plural, resource.group, name,
                                      "Precondition failed: UID in precondition: "
                                      f"{preconditions['uid']}, UID in object meta: {old['metadata']['uid']}")
            if preconditions.get("resourceVersion") and \
                    preconditions["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise errors.modified(resource.plural, resource.group, name)
            webhooks.admit(self.store, "DELETE", resource, "", namespace if resource.namespaced else "", None, old)
            if options.get("dryRun"):
                return old
            result = self._delete(resource, old, options)
            if resource is PODS or result["metadata"].get("deletionTimestamp") and \
                    self.store.get(resource.key, namespace, name) is not None:
                return result
            return success(resource, old)

    def _delete(self, resource: Resource, old: Obj, options: Obj) -> Obj:
        meta = old["metadata"]
        if resource is CRDS:
            return self._delete_crd(old)
        grace = self._grace_period(resource, old, options)
        if meta.get("finalizers") or grace > 0 or resource is NAMESPACES:
            if meta.get("deletionTimestamp") and (grace > 0 or meta.get("finalizers")) and \
                    (meta.get("deletionGracePeriodSeconds") or 0) <= grace:
                return old
            terminating = copy.deepcopy(old)
            terminating["metadata"]["deletionTimestamp"] = now(grace)
            terminating["metadata"]["deletionGracePeriodSeconds"] = grace
            if resource is NAMESPACES:
                terminating["status"] = {**terminating.get("status", {}), "phase": "Terminating"}
                terminating = self.store.put(resource.key, terminating, "MODIFIED")
                self._empty_namespace(meta["name"])
                return self.store.get(resource.key, "", meta["name"]) or terminating
            if grace == 0 and not meta.get("finalizers"):
                return self._remove(resource, terminating)
            return self.store.put(resource.key, terminating, "MODIFIED")
        return self._remove(resource, old, options.get("propagationPolicy", "Background"))

    def _grace_period(self, resource: Resource, obj: Obj, options: Obj) -> int:
        """Pods running on a node terminate gracefully; everything else goes at once."""
        if resource is not PODS:
            return 0
        if not obj.get("spec", {}).get("nodeName") or \
                obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        requested = options.get("gracePeriodSeconds")
        if requested is None:
            requested = obj["spec"].get("terminationGracePeriodSeconds", 30)
        return max(int(requested), 0)

    def _remove(self, resource: Resource, obj: Obj, propagation: str = "Background") -> Obj:
        removed = self.store.remove(resource.key, obj)
        self._collect_dependents(obj["metadata"]["uid"], propagation)
        namespace = obj["metadata"].get("namespace", "")
        if namespace:
            self._finish_namespace(namespace)
        if resource.from_crd:
            self._finish_crd(crds.crd_name(resource))
        return removed

    def _delete_crd(self, crd: Obj) -> Obj:
        """The CRD terminates, its objects are deleted, then its cleanup finalizer goes."""
        terminating = self.store.put(CRDS.key, crds.terminating(crd), "MODIFIED")
        stored = crds.storage_resource(terminating)
        for obj in self.store.items(stored.key)[0]:
            if self.store.get(stored.key, *_key(obj)) is obj:
                self._delete(stored, obj, {})
        self._finish_crd(crd["metadata"]["name"])
        return self.store.get(CRDS.key, "", crd["metadata"]["name"]) or terminating

    def _finish_crd(self, name: str) -> None:
        crd = self.store.get(CRDS.key, "", name)
        if not crds.is_terminating(crd) or self.store.items(crds.storage_resource(crd).key)[0]:
            return
        cleaned = crds.cleaned_up(crd)
        if cleaned["metadata"]["finalizers"]:
            self.store.put(CRDS.key, cleaned, "MODIFIED")
        else:
            self.store.remove(CRDS.key, cleaned)

    def _collect_dependents(self, owner_uid: str, propagation: str) -> None:
        """What the garbage collector does once an owner is gone: delete (or orphan) its dependents."""
        for dependent_resource in self.registry.stored():
            items, _ = self.store.items(dependent_resource.key)
            for dependent in items:
                owners = dependent["metadata"].get("ownerReferences") or []
                if not any(owner.get("uid") == owner_uid for owner in owners):
                    continue
                if propagation == "Orphan":
                    orphan = copy.deepcopy(dependent)
                    orphan["metadata"]["ownerReferences"] = [o for o in owners if o.get("uid") != owner_uid]
                    self.store.put(dependent_resource.key, orphan, "MODIFIED")
                elif self.store.get(dependent_resource.key, *_key(dependent)) is dependent:
                    self._delete(dependent_resource, dependent, {})

    def _empty_namespace(self, namespace: str) -> None:
        """The namespace controller's work: delete everything in a terminating namespace."""
        for resource in self.registry.stored():
            if resource.namespaced:
                for obj in self.store.items(resource.key, namespace)[0]:
                    if self.store.get(resource.key, *_key(obj)) is obj:
                        self._delete(resource, obj, {})
        self._finish_namespace(namespace)

    def _finish_namespace(self, namespace: str) -> None:
        ns = self.store.get(NAMESPACES.key, "", namespace)
        if not ns or not ns["metadata"].get("deletionTimestamp"):
            return
        if any(self.store.items(r.key, namespace)[0] for r in self.registry.stored() if r.namespaced):
            return
        self.store.remove(NAMESPACES.key, ns)

    # pod subresources

    def bind(self, namespace: str, name: str, binding: Any) -> Obj:
        """POST pods/<name>/binding: what the scheduler calls to place a pod on a node."""
        target = (binding or {}).get("target") or {}
        if not target.get("name"):
            raise errors.invalid("Binding", "", name, [("target.name", "FieldValueRequired", "Required value")])
        with self.store.lock:
            pod = self.get(PODS, namespace, name)
            if pod["metadata"].get("deletionTimestamp"):
                raise errors.conflict("pods/binding", "", name, f"pod {name} is being deleted, cannot be assigned to a host")
            if pod.get("spec", {}).get("nodeName"):
                raise errors.conflict("pods/binding", "", name,
                                      f"pod {name} is already assigned to node \"{pod['spec']['nodeName']}\"")
            bound = copy.deepcopy(pod)
            bound["spec"]["nodeName"] = target["name"]
            conditions = [c for c in bound.setdefault("status", {}).get("conditions", [])
                          if c.get("type") != "PodScheduled"]
            conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": now()})
            bound["status"]["conditions"] = conditions
            self.store.put(PODS.key, bound, "MODIFIED")
        return success(PODS, pod, 201)

    # scale subresource (autoscaling/v1 Scale over spec.replicas)

    def scale(self, resource: Resource, namespace: str, name: str) -> Obj:
        return _scale_of(self.get(resource, namespace, name))

    def update_scale(self, resource: Resource, namespace: str, name: str, body: Any,
                     content_type: str = "") -> Obj:
        """PUT (body is a Scale) or PATCH (content_type set) of `<workload>/scale`."""
        with self.store.lock:
            obj = self.get(resource, namespace, name)
            scale = apply_patch(_scale_of(obj), body, content_type, "Scale") if content_type else body
            replicas = ((scale or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid("Scale", "autoscaling", name, [
                    ("spec.replicas", "FieldValueInvalid", f"Invalid value: {replicas!r}: must be "
                     "greater than or equal to 0")])
            version = ((scale or {}).get("metadata") or {}).get("resourceVersion")
            updated = copy.deepcopy(obj)
            updated["spec"]["replicas"] = replicas
            updated["metadata"]["resourceVersion"] = version or obj["metadata"]["resourceVersion"]
            return _scale_of(self._replace(resource, obj, updated, ""))

    # helpers

    def _checked_body(self, resource: Resource, namespace: str, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = copy.deepcopy(body)
        if obj.get("apiVersion") not in (None, "", resource.api_version):
            raise errors.bad_request(f"the API version in the data ({obj['apiVersion']}) does not match "
                                     f"the expected API version ({resource.api_version})")
        if obj.get("kind") not in (None, "", resource.kind):
            raise errors.bad_request(f"the kind in the data ({obj['kind']}) does not match the expected "
                                     f"kind ({resource.kind})")
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        obj = {"kind": obj.pop("kind"), "apiVersion": obj.pop("apiVersion"), **obj}
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if resource.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the "
                                         "namespace sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return obj

    def _require_namespace(self, namespace: str) -> None:
        ns = self.store.get(NAMESPACES.key, "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(403, "Forbidden", f"unable to create new content in namespace "
                                  f"{namespace} because it is being terminated", {})

    def _generated_name(self, resource: Resource, meta: Obj) -> str:
        for _ in range(20):
            name = meta["generateName"] + "".join(random.choice(GENERATE_ALPHABET) for _ in range(5))
            if self.store.get(resource.key, meta.get("namespace", ""), name) is None:
                return name
        raise errors.ApiError(500, "InternalError", "could not generate a unique name")

    def _services(self) -> list[Obj]:
        return self.store.items(SERVICES.key)[0]


def _fill_struct_fields(resource: Resource, obj: Obj) -> None:
    for field in resource.always:
        if not isinstance(obj.get(field), dict):
            obj[field] = {}


def _scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    selector = obj.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                               "creationTimestamp") if k in meta},
            "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
            "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}}


def _key(obj: Obj) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _awaits_kubelet(resource: Resource, obj: Obj) -> bool:
    """A terminating pod on a node stays until the kubelet confirms with a grace-0 delete."""
    return resource is PODS and bool(obj.get("spec", {}).get("nodeName")) and \
        obj.get("status", {}).get("phase") not in ("Succeeded", "Failed")
