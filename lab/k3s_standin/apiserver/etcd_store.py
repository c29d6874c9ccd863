"""The object store of an HA server: etcd is the datastore, read and written through its v3 gateway.

Upstream: kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go.

Keys are laid out as kube-apiserver lays them out (k8s.io/kubernetes pkg/registry/*/storage and
k8s.io/apiserver pkg/registry/generic/registry/store.go `NamespaceKeyFunc`/`NoNamespaceKeyFunc`):
`/registry/<resource>/<namespace>/<name>` or `/registry/<resource>/<name>`, with the historic
prefixes `minions` (nodes), `services/specs` and `services/endpoints`, and `/registry/<group>/<resource>`
for custom resources (helm.cattle.io's, and those of CustomResourceDefinitions created at run time).
Values are the objects' JSON without `metadata.resourceVersion`: as in
kube-apiserver (k8s.io/apiserver pkg/storage/etcd3/store.go, `versioner.UpdateObject`), the
resourceVersion of an object is its key's mod_revision and a list's is the header revision.
(Built-in types are protobuf in real etcd; the stand-in keeps JSON, as kine does for custom resources.)

Writes are compare-and-swap transactions (store.go `Create`: `CreateRevision == 0`;
`GuaranteedUpdate`/`Delete`: `ModRevision == <the resourceVersion read>`), so two servers never
overwrite each other: the loser answers 409, and a write is acknowledged only after etcd committed
it to a quorum. Without quorum etcd answers "etcdserver: request timed out" and the API answers as
kube-apiserver's errorToAPIStatus does for a storage error that is no API status (k8s.io/apiserver
pkg/endpoints/handlers/responsewriters/status.go): code 500, reason "" (StatusReasonUnknown), the
etcd error as message; kubectl prints `Error from server: etcdserver: request timed out`.

Reads and watches are served from a cache fed by one etcd watch, as kube-apiserver's watch cache
(k8s.io/apiserver pkg/storage/cacher/cacher.go). A read outside a write first asks etcd for its
current revision with a quorum read and waits until the cache has it, as the cacher's consistent
reads do (ConsistentListFromCache, `GetCurrentResourceVersion` + `waitUntilFreshAndBlock`), so a
read answered is never stale and fails like a write when etcd has no quorum.

Example:
    store = EtcdStore(Gateway("http://127.0.0.1:2379"))
    store.put("/nodes", node, "ADDED")
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from k3s_standin.apiserver import errors
from k3s_standin.apiserver.errors import ApiError
from k3s_standin.apiserver.resources import REGISTRY
from k3s_standin.apiserver.store import Change, Store, object_key
from k3s_standin.etcd.gateway import EtcdError, Gateway, b64, unb64

Obj = dict[str, Any]
PREFIX = "/registry/"
FRESH_SECONDS = 10.0
RETRY_SECONDS = 1.0
# kube-apiserver's own etcd prefixes (pkg/registry/core/{node,service}/storage,
# pkg/registry/networking/ingress/storage; CRDs: apiextensions-apiserver pkg/registry/customresourcedefinition)
SPECIAL_PREFIXES = {"/nodes": "minions", "/services": "services/specs", "/endpoints": "services/endpoints",
                    "networking.k8s.io/ingresses": "ingress",
                    "apiextensions.k8s.io/customresourcedefinitions": "apiextensions.k8s.io/customresourcedefinitions"}


def etcd_prefixes() -> dict[str, str]:
    """Storage key (`group/plural`) -> etcd key prefix ending in `/`, for the built-in types."""
    return {resource.key: etcd_prefix(resource.key) for resource in REGISTRY.resources}


def etcd_prefix(key: str) -> str:
    """The etcd prefix of a storage key; any key that is not a built-in type's is a custom
    resource's, `/registry/<group>/<plural>/` (apiextensions-apiserver customresource_handler.go)."""
    builtin = next((r for r in REGISTRY.resources if r.key == key), None)
    if builtin is None or not builtin.builtin:
        return f"{PREFIX}{key}/"
    return f"{PREFIX}{SPECIAL_PREFIXES.get(key) or builtin.plural}/"


def _custom_key(etcd_key: str) -> str | None:
    """`/registry/cert-manager.io/issuers/ns/name` -> `cert-manager.io/issuers`: groups of custom
    resources always hold a dot, which no built-in prefix's first segment does."""
    parts = etcd_key[len(PREFIX):].split("/")
    return f"{parts[0]}/{parts[1]}" if len(parts) >= 3 and "." in parts[0] else None


def storage_error(error: EtcdError) -> ApiError:
    return ApiError(500, "", str(error))


class EtcdStore(Store):
    """`Store`'s interface over etcd; the lock orders this server's verbs, etcd orders the cluster's."""

    def __init__(self, etcd: Gateway) -> None:
        super().__init__(None)
        self.etcd = etcd
        self.prefixes = etcd_prefixes()
        self.storage_keys = sorted(((p, k) for k, p in self.prefixes.items()), key=lambda i: -len(i[0]))
        self.closed = False
        self._relist()
        threading.Thread(target=self._follow, name="etcd-watch", daemon=True).start()

    # keys and values

    def _key(self, key: str, name: tuple[str, str]) -> str:
        namespace, object_name = name
        prefix = self.prefixes.get(key) or etcd_prefix(key)
        return prefix + (f"{namespace}/{object_name}" if namespace else object_name)

    def _decode(self, kv: Obj) -> tuple[str, Obj] | None:
        etcd_key = unb64(kv["key"]).decode()
        key = next((k for p, k in self.storage_keys if etcd_key.startswith(p)), None) or _custom_key(etcd_key)
        if key is None or not kv.get("value"):
            return None
        obj = json.loads(unb64(kv["value"]))
        obj["metadata"]["resourceVersion"] = str(kv["mod_revision"])
        return key, obj

    @staticmethod
    def _encode(obj: Obj) -> str:
        metadata = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
        return b64(json.dumps({**obj, "metadata": metadata}, separators=(",", ":")))

    # reads

    def get(self, key: str, namespace: str, name: str) -> Obj | None:
        self._fresh()
        return super().get(key, namespace, name)

    def items(self, key: str, namespace: str = "") -> tuple[list[Obj], int]:
        self._fresh()
        return super().items(key, namespace)

    def _fresh(self) -> None:
        """Wait until the cache holds etcd's current revision; inside a verb (lock held) the verb's
        own reads see the state it started from, and the compare of its write catches any change."""
        if self.lock._is_owned():  # type: ignore[attr-defined]
            return
        try:
            revision = self.etcd.revision()
        except EtcdError as error:
            raise storage_error(error) from error
        deadline = time.monotonic() + FRESH_SECONDS
        with self.lock:
            while self.revision < revision:
                if time.monotonic() > deadline:
                    raise ApiError(504, "Timeout", f"Timeout: Too large resource version: {revision}, "
                                   f"current: {self.revision}", {"retryAfterSeconds": 1})
                self.changed.wait(0.5)

    # writes

    def put(self, key: str, obj: Obj, event: str) -> Obj:
        etcd_key = b64(self._key(key, object_key(obj)))
        if event == "ADDED":
            compare = {"key": etcd_key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
        else:
            compare = {"key": etcd_key, "target": "MOD", "result": "EQUAL",
                       "mod_revision": obj["metadata"].get("resourceVersion", "0")}
        revision = self._commit(compare, {"request_put": {"key": etcd_key, "value": self._encode(obj)}},
                                key, obj, event)
        obj["metadata"]["resourceVersion"] = str(revision)
        return obj

    def remove(self, key: str, obj: Obj) -> Obj:
        etcd_key = b64(self._key(key, object_key(obj)))
        compare = {"key": etcd_key, "target": "MOD", "result": "EQUAL",
                   "mod_revision": obj["metadata"].get("resourceVersion", "0")}
        revision = self._commit(compare, {"request_delete_range": {"key": etcd_key}}, key, obj, "DELETED")
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(revision)}}

    def _commit(self, compare: Obj, operation: Obj, key: str, obj: Obj, event: str) -> int:
        """One transaction; returns its revision once the cache has it (read-your-writes)."""
        try:
            answer = self.etcd.txn([compare], [operation], [])
        except EtcdError as error:
            raise storage_error(error) from error
        group, plural = key.split("/", 1)
        if not answer.get("succeeded"):
            if event == "ADDED":
                raise errors.already_exists(plural, group, obj["metadata"]["name"])
            raise errors.modified(plural, group, obj["metadata"]["name"])
        revision = int(answer["header"]["revision"])
        with self.lock:
            deadline = time.monotonic() + FRESH_SECONDS
            while self.revision < revision and time.monotonic() < deadline:
                self.changed.wait(0.5)
        return revision

    # the cache

    def _relist(self) -> None:
        """Fill the cache from etcd (at start, and when the watch fell behind a compaction);
        watches from before must relist (410), as after a compaction."""
        while True:
            try:
                kvs, revision = self.etcd.range_prefix(PREFIX)
                break
            except EtcdError:
                if self.closed:
                    return
                time.sleep(RETRY_SECONDS)
        with self.lock:
            self.objects = {}
            for kv in kvs:
                decoded = self._decode(kv)
                if decoded:
                    key, obj = decoded
                    self.objects.setdefault(key, {})[object_key(obj)] = obj
            self.revision = self.compacted = revision
            self.log = []
            self.changed.notify_all()

    def _follow(self) -> None:
        """Apply etcd's events in revision order; reconnect after the member restarts or the stream
        breaks, from the last revision applied."""
        while not self.closed:
            try:
                for event in self.etcd.watch("", self.revision + 1):
                    self._apply(event)
            except EtcdError as error:
                if "compacted" in str(error):
                    self._relist()
                    continue
            time.sleep(RETRY_SECONDS)

    def _apply(self, event: Obj) -> None:
        kv = event["kv"]
        revision = int(kv["mod_revision"])
        with self.lock:
            if revision <= self.revision:
                return
            previous = self._decode(event["prev_kv"]) if event.get("prev_kv") else None
            if event.get("type") == "DELETE":
                if previous is None:
                    self._advance(revision)
                    return
                key, old = previous
                self.objects.get(key, {}).pop(object_key(old), None)
                gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(revision)}}
                self._record(Change(revision, key, "DELETED", gone, old))
                return
            decoded = self._decode(kv)
            if decoded is None:
                self._advance(revision)
                return
            key, obj = decoded
            self.objects.setdefault(key, {})[object_key(obj)] = obj
            kind = "ADDED" if kv.get("create_revision") == kv.get("mod_revision") else "MODIFIED"
            self._record(Change(revision, key, kind, obj, previous[1] if previous else None))

    def _advance(self, revision: int) -> None:
        self.revision = max(self.revision, revision)
        self.changed.notify_all()

    def close(self) -> None:
        """Stop following etcd; a later write fails at etcd instead of being acknowledged unstored."""
        self.closed = True
