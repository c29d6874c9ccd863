"""Deploy controller (k3s AddOns): applies every `*.yaml`/`*.yml`/`*.json` in
`<data-dir>/server/manifests` on start and whenever a file changes, like `kubectl apply`. As in k3s,
removing a file does not delete what it applied (k3s-io/k3s#1971): whoever removes a manifest
deletes its objects too. Applied objects carry the objectset owner annotations k3s puts on them,
naming the AddOn (the file's base name).

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
    def __init__(self, api: Client, directory: str) -> None:
        self.api = api
        self.directory = directory
        self.resources = Resources(api)
        self.applied: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def files(self) -> dict[str, str]:
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return {}
        return {name: os.path.join(self.directory, name) for name in names
                if name.endswith(SUFFIXES) and not name.startswith(".")}

    def reconcile(self) -> None:
        files = self.files()
        for name, file_path in files.items():
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
