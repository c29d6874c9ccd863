"""Deploy controller (k3s AddOns, k3s-io/k3s pkg/deploy/controller.go): applies every
`*.yaml`/`*.yml`/`*.json` in `<data-dir>/server/manifests` and its subdirectories on start and whenever
a file changes, like `kubectl apply`. As in k3s, removing a file does not delete what it applied
(k3s-io/k3s#1971): whoever removes a manifest deletes its objects too. A file with a `<file>.skip`
beside it is not applied. A disabled component's file (`disable:` names its base name or its
directory) is actively deleted, with the objects it applied (`shouldDisableFile`, `delete`).
Applied objects carry the objectset owner annotations k3s puts on them, naming the AddOn (the
file's base name).

Example:
    Manifests(api, "/var/lib/rancher/k3s/server/manifests").reconcile()
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import yaml

from k3s_standin.client import ApiError, Client, path
from k3s_standin.controllers import log
from k3s_standin.controllers.discovery import Resources, UnknownKind

Obj = dict[str, Any]

OWNER_NAME = "objectset.rio.cattle.io/owner-name"
OWNER_NAMESPACE = "objectset.rio.cattle.io/owner-namespace"
OWNER_GVK = "objectset.rio.cattle.io/owner-gvk"
APPLIED_HASH = "objectset.rio.cattle.io/hash"
ADDON_GVK = "k3s.cattle.io/v1, Kind=Addon"
ADDON_NAMESPACE = "kube-system"
SUFFIXES = (".yaml", ".yml", ".json")
def addon_name(file_name: str) -> str:
    base = os.path.basename(file_name)
    for suffix in SUFFIXES:
        base = base.removesuffix(suffix)
    return base


def documents(text: str) -> list[Obj]:
    """Objects of a manifest file; `List` kinds are flattened like kubectl does."""
    objs: list[Obj] = []
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise ValueError("object without apiVersion/kind")
        objs.extend(doc.get("items") or [] if doc["kind"].endswith("List") else [doc])
    return objs


def stamped(obj: Obj, addon: str) -> Obj:
    """The object as applied: owner annotations plus the hash of what the file says."""
    body = json.loads(json.dumps(obj))
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:40]
    annotations = body.setdefault("metadata", {}).setdefault("annotations", {}) or {}
    body["metadata"]["annotations"] = annotations
    annotations.update({OWNER_NAME: addon, OWNER_NAMESPACE: ADDON_NAMESPACE, OWNER_GVK: ADDON_GVK,
                        APPLIED_HASH: digest})
    return body


class Manifests:
    def __init__(self, api: Client, directory: str, disables: tuple[str, ...] = ()) -> None:
        self.api = api
        self.directory = directory
        self.disables = set(disables)
        self.resources = Resources(api)
        self.applied: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def files(self) -> dict[str, str]:
        """Relative name -> path of every manifest, subdirectories included, `.skip`ped ones left out."""
        found: dict[str, str] = {}
        for root, directories, names in os.walk(self.directory):
            directories.sort()
            for name in sorted(names):
                full = os.path.join(root, name)
                if name.endswith(SUFFIXES) and not name.startswith(".") and not os.path.exists(full + ".skip"):
                    found[os.path.relpath(full, self.directory)] = full
        return found

    def disabled(self, relative: str) -> bool:
        """k3s `shouldDisableFile`: a disabled directory on the path, or the file's base name."""
        parts = relative.split(os.sep)
        return any(part in self.disables for part in parts[:-1]) or addon_name(parts[-1]) in self.disables

    def remove_disabled(self, name: str, file_path: str) -> None:
        """Delete a disabled component's objects, then its file."""
        try:
            with open(file_path, encoding="utf-8") as handle:
                objs = documents(handle.read())
        except (OSError, yaml.YAMLError, ValueError) as error:
            self.report(name, f"failed to delete {file_path}: {error}")
            return
        for obj in objs:
            try:
                self.api.delete(self.url_of(obj)[1])
            except (UnknownKind, ApiError):
                continue
        os.remove(file_path)
        log.info(f"Deleted disabled manifest {name} and the objects of AddOn {ADDON_NAMESPACE}/{addon_name(name)}")

    def reconcile(self) -> None:
        files = self.files()
        for name, file_path in files.items():
            if self.disabled(name):
                self.remove_disabled(name, file_path)
                continue
            with open(file_path, "rb") as handle:
                content = handle.read()
            digest = hashlib.sha256(content).hexdigest()
            if self.applied.get(name) == digest:
                continue
            # A file is done once every object applied; failures (e.g. a namespace that a chart
            # creates later) are retried on the next pass, as the AddOn controller requeues.
            if self.apply_file(name, content.decode()):
                self.applied[name] = digest
        for name in set(self.applied) - set(files):
            del self.applied[name]

    def apply_file(self, name: str, text: str) -> bool:
        """Apply every object of one file; True when all of them went in."""
        addon = addon_name(name)
        try:
            objs = documents(text)
        except (yaml.YAMLError, ValueError) as error:
            self.report(name, f"Failed to process config: failed to process "
                              f"{os.path.join(self.directory, name)}: {error}")
            return False
        failures = []
        for obj in objs:
            try:
                self.apply(stamped(obj, addon))
            except (UnknownKind, ApiError) as error:
                failures.append(f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}: {error}")
        if failures:
            self.report(name, f"Failed to apply {name} (will retry): {'; '.join(failures)}")
            return False
        self.errors.pop(name, None)
        log.info(f"Applied manifest {name} ({len(objs)} objects) as AddOn {ADDON_NAMESPACE}/{addon}")
        return True

    def report(self, name: str, message: str) -> None:
        """Log an apply error once, not on every retry."""
        if self.errors.get(name) != message:
            log.error(message)
        self.errors[name] = message

    def url_of(self, obj: Obj) -> tuple[str, str]:
        """(collection URL, object URL)."""
        resource, namespaced = self.resources.locate(obj["apiVersion"], obj["kind"])
        namespace = (obj["metadata"].get("namespace") or ADDON_NAMESPACE) if namespaced else None
        if namespaced:
            obj["metadata"]["namespace"] = namespace
        collection = path(obj["apiVersion"], resource, namespace)
        return collection, f"{collection}/{obj['metadata']['name']}"

    def apply(self, obj: Obj) -> None:
        collection, url = self.url_of(obj)
        current = self.api.find(url)
        if current is None:
            self.api.create(collection, obj)
            return
        if (current["metadata"].get("annotations") or {}).get(APPLIED_HASH) == \
                obj["metadata"]["annotations"][APPLIED_HASH]:
            return
        merged = dict(current, **{key: value for key, value in obj.items() if key != "metadata"})
        merged["metadata"] = dict(current["metadata"], labels=obj["metadata"].get("labels") or {},
                                  annotations=obj["metadata"]["annotations"])
        self.api.update(url, merged)
