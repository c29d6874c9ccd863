"""JSON patch (RFC 6902), JSON merge patch (RFC 7386) and Kubernetes strategic merge patch.

Strategic merge patch merges lists by the merge keys of the Kubernetes Go types (`containers` by
`name`, node `conditions` by `type`, ...); lists without a patch strategy (`taints`, `tolerations`)
are replaced, as in Kubernetes. Directives: `$patch` (replace / delete / merge), `$retainKeys`,
`$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>`.

Example:
    apply_patch(node, {"spec": {"unschedulable": True}}, STRATEGIC, "Node")
"""

from __future__ import annotations

import copy
from typing import Any

from k3s_standin.apiserver.errors import bad_request, ApiError

JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"

MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "ownerReferences": "uid", "conditions": "type",
    "addresses": "type", "resourceClaims": "name", "topologySpreadConstraints": "topologyKey",
}
PRIMITIVE_MERGE = ("finalizers",)
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def apply_patch(obj: dict[str, Any], patch: Any, content_type: str, kind: str) -> dict[str, Any]:
    """Return the patched copy of `obj`; raises a 4xx `ApiError` for a malformed patch."""
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        return json_patch(obj, patch)
    if not isinstance(patch, dict):
        raise bad_request("patch body must be a JSON object")
    if content_type == MERGE:
        return merge_patch(obj, patch)
    return strategic_merge(obj, patch, (kind,))


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key(path: tuple[str, ...]) -> str | None:
    field = path[-1]
    if field == "ports":
        if len(path) >= 2 and path[-2] in CONTAINER_LISTS:
            return "containerPort"
        if path == ("Service", "spec", "ports"):
            return "port"
        return None
    return MERGE_KEYS.get(field)


def _strip(value: Any) -> Any:
    """A patch value with its directives removed, as stored when there is nothing to merge into."""
    if isinstance(value, dict):
        if value.get("$patch") == "delete":
            return None
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(item) for item in value
                if not (isinstance(item, dict) and item.get("$patch") in ("delete", "replace"))]
    return value


def strategic_merge(original: Any, patch: dict[str, Any], path: tuple[str, ...]) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return None
    result = dict(original) if isinstance(original, dict) else {}
    orders = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [item for item in result.get(field) or [] if item not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, (*path, key))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, (*path, key))
        else:
            result[key] = value
    if "$retainKeys" in patch:
        result = {k: v for k, v in result.items() if k in patch["$retainKeys"]}
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _ordered(result[field], order, _merge_key((*path, field)))
    return result


def _merge_list(original: Any, patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    merge_key = _merge_key(path)
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return _strip(patch)
    if merge_key is None:
        if path[-1] in PRIMITIVE_MERGE:
            merged = list(original or [])
            return merged + [item for item in patch if item not in merged]
        return _strip(patch)
    merged = [item for item in original or []]
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise bad_request(f"map: {item!r} does not contain declared merge key: {merge_key}")
        position = next((index for index, existing in enumerate(merged)
                         if isinstance(existing, dict) and existing.get(merge_key) == item[merge_key]),
                        None)
        if item.get("$patch") == "delete":
            if position is not None:
                merged.pop(position)
        elif position is None:
            merged.append(_strip(item))
        else:
            merged[position] = strategic_merge(merged[position], item, path)
    return merged


def _ordered(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    def identity(item: Any) -> Any:
        return item.get(merge_key) if merge_key and isinstance(item, dict) else item

    wanted = [identity(entry) for entry in order]
    ranked = [item for key in wanted for item in items if identity(item) == key]
    return ranked + [item for item in items if identity(item) not in wanted]


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"json patch: invalid path {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(document: Any, parts: list[str], path: str) -> Any:
    node = document
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise _missing(path) from error
    return node


def _missing(path: str) -> ApiError:
    return ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: "
                    f"jsonpatch: missing path {path!r}", {})


def _get(document: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return document
    parent = _parent(document, parts, path)
    try:
        return parent[int(parts[-1])] if isinstance(parent, list) else parent[parts[-1]]
    except (KeyError, IndexError, ValueError, TypeError) as error:
        raise _missing(path) from error


def _remove(document: Any, path: str) -> Any:
    parts = _pointer(path)
    parent = _parent(document, parts, path)
    try:
        return parent.pop(int(parts[-1])) if isinstance(parent, list) else parent.pop(parts[-1])
    except (KeyError, IndexError, ValueError, TypeError) as error:
        raise _missing(path) from error


def _add(document: Any, path: str, value: Any, replace: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(document, parts, path)
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if not 0 <= index <= len(parent) - (1 if replace else 0):
            raise _missing(path)
        if replace:
            parent[index] = value
        else:
            parent.insert(index, value)
    elif isinstance(parent, dict):
        if replace and last not in parent:
            raise _missing(path)
        parent[last] = value
    else:
        raise _missing(path)
    return document


def json_patch(obj: dict[str, Any], operations: list[Any]) -> Any:
    document: Any = copy.deepcopy(obj)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise bad_request("json patch: each operation needs 'op' and 'path'")
        op, path = operation["op"], operation["path"]
        if op == "add":
            document = _add(document, path, copy.deepcopy(operation.get("value")), False)
        elif op == "replace":
            document = _add(document, path, copy.deepcopy(operation.get("value")), True)
        elif op == "remove":
            _remove(document, path)
        elif op in ("move", "copy"):
            value = _remove(document, operation["from"]) if op == "move" else \
                copy.deepcopy(_get(document, operation["from"]))
            document = _add(document, path, value, False)
        elif op == "test":
            if _get(document, path) != operation.get("value"):
                raise ApiError(422, "Invalid", f"the server rejected our request due to an error in "
                               f"our request: testing value {path} failed", {})
        else:
            raise bad_request(f"json patch: unexpected operation {op!r}")
    return document
