"""A minimal OpenAPI v3 surface: the `/openapi/v3` index and one document per group-version listing
each kind's PATCH operation with its `x-kubernetes-group-version-kind` and `fieldValidation` query
parameter. That is what kubectl reads to learn that validation happens server-side; schemas are
not served, so kubectl never validates client-side against a made-up schema.

`/openapi/v2` answers an empty protobuf `openapi_v2.Document` (the only encoding client-go's
`OpenAPISchema` accepts): kubectl falls back to it to validate a kind whose group OpenAPI v3 does not
list - one whose CRD is missing - and skips validation of a kind it has no schema for, so the error
it then prints is the real one, "no matches for kind".

Custom resources are listed like built-in kinds, as kube-apiserver publishes CRDs in OpenAPI v3
(apiextensions-apiserver pkg/controller/openapiv3).

Example:
    index(registry)             # {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}
    document(registry, "apis/apps/v1")    # OpenAPI document or None
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from k3s_standin import K3S_VERSION
from k3s_standin.apiserver.resources import Registry, Resource

Obj = dict[str, Any]
V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
V2_DOCUMENT = b""


def _prefix(resource: Resource) -> str:
    return f"apis/{resource.group}/{resource.version}" if resource.group else f"api/{resource.version}"


def _item_path(resource: Resource) -> str:
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    return f"/{_prefix(resource)}{scope}/{resource.plural}/{{name}}"


def document(registry: Registry, prefix: str) -> Obj | None:
    resources = [r for r in registry.resources if _prefix(r) == prefix and r.kind != "Binding"]
    if not resources:
        return None
    paths = {}
    for resource in resources:
        gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
        paths[_item_path(resource)] = {"patch": {
            "operationId": f"patch{resource.kind}", "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [{"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                           for name in ("dryRun", "fieldManager", "fieldValidation", "force")],
            "responses": {"200": {"description": "OK"}}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": K3S_VERSION},
            "paths": paths, "components": {"schemas": {}}}


def index(registry: Registry) -> Obj:
    prefixes = dict.fromkeys(_prefix(r) for r in registry.resources)
    paths = {}
    for prefix in prefixes:
        digest = hashlib.sha512(json.dumps(document(registry, prefix), sort_keys=True).encode()).hexdigest().upper()
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest}"}
    return {"paths": paths}
