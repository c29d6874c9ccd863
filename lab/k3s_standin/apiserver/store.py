"""Object store with a global resourceVersion, a change log for watches, and a durable datastore.

Stored objects are never mutated: every write stores a new dict, so readers may hold references
without copying. Every write is committed to the sqlite datastore (`database.py`) before `put` or
`remove` returns, so before the API answers, as kine/etcd commit before kube-apiserver acknowledges
(k8s.io/apiserver pkg/storage/etcd3/store.go: Create/GuaranteedUpdate return after the txn commits).
The in-memory copy serves reads and watches.

Example:
    store = Store("/var/lib/rancher/k3s/server/db/state.db")
    store.put("/nodes", node, "ADDED")
"""

from __future__ import annotations

import bisect
import dataclasses
import threading
from typing import Any

from k3s_standin.apiserver.database import Database
from k3s_standin.apiserver.errors import gone

Obj = dict[str, Any]
LOG_LIMIT = 5000


@dataclasses.dataclass(frozen=True)
class Change:
    """One entry of the change log: what a watch sends as `{"type": ..., "object": ...}`."""

    revision: int
    key: str
    type: str
    obj: Obj
    previous: Obj | None


def object_key(obj: Obj) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class Store:
    """Objects by storage key (`group/plural`) and (namespace, name)."""

    def __init__(self, database_file: str | None) -> None:
        """`database_file` None keeps the objects in memory only (unit tests)."""
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self.revision = 1
        self.log: list[Change] = []
        self.compacted = 1
        self.database = Database(database_file) if database_file else None
        if self.database:
            self._load(self.database)

    def get(self, key: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            return self.objects.get(key, {}).get((namespace, name))

    def items(self, key: str, namespace: str = "") -> tuple[list[Obj], int]:
        """Objects of one kind (in one namespace when given), sorted like etcd, and the list revision."""
        with self.lock:
            found = [obj for (ns, _), obj in self.objects.get(key, {}).items()
                     if not namespace or ns == namespace]
            found.sort(key=object_key)
            return found, self.revision

    def cached_items(self, key: str) -> list[Obj]:
        """Objects of one kind as this server holds them, without a consistent read (HA: no etcd
        round trip); for routing tables such as the served custom resources."""
        with self.lock:
            return list(self.objects.get(key, {}).values())

    def put(self, key: str, obj: Obj, event: str) -> Obj:
        """Store `obj` (ADDED or MODIFIED) under a new resourceVersion; returns the stored object."""
        with self.lock:
            revision = self.revision + 1
            obj["metadata"]["resourceVersion"] = str(revision)
            self._commit(revision, key, object_key(obj), obj)
            previous = self.objects.setdefault(key, {}).get(object_key(obj))
            self.objects[key][object_key(obj)] = obj
            self._record(Change(revision, key, event, obj, previous))
            return obj

    def remove(self, key: str, obj: Obj) -> Obj:
        with self.lock:
            revision = self.revision + 1
            self._commit(revision, key, object_key(obj), None)
            self.objects.get(key, {}).pop(object_key(obj), None)
            gone_obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(revision)}}
            self._record(Change(revision, key, "DELETED", gone_obj, obj))
            return gone_obj

    def _commit(self, revision: int, key: str, name: tuple[str, str], obj: Obj | None) -> None:
        """Durable first: a failed commit raises before memory or watchers see the write."""
        if self.database:
            self.database.write(revision, key, name, obj)

    def _record(self, change: Change) -> None:
        self.revision = change.revision
        self.log.append(change)
        if len(self.log) > 2 * LOG_LIMIT:
            self.compacted = self.log[-LOG_LIMIT - 1].revision
            del self.log[:-LOG_LIMIT]
        self.changed.notify_all()

    def changes(self, key: str, since: int, timeout: float) -> tuple[list[Change], int]:
        """Changes of `key` after revision `since` (waiting up to `timeout` for any write), and the
        revision scanned up to, which is the next call's `since`.

        Raises 410 Expired when `since` is older than the log keeps, so clients relist.
        """
        with self.lock:
            if since < self.compacted:
                raise gone(f"too old resource version: {since} ({self.compacted})")
            if self.revision <= since:
                self.changed.wait(timeout)
            start = bisect.bisect_right(self.log, since, key=lambda change: change.revision)
            return [change for change in self.log[start:] if change.key == key], self.revision

    def _load(self, database: Database) -> None:
        """Start from the datastore; watches from before the restart must relist (410), as after
        an etcd compaction."""
        self.revision, stored = database.load()
        self.compacted = self.revision
        for key, obj in stored:
            self.objects.setdefault(key, {})[object_key(obj)] = obj

    def close(self) -> None:
        """Close the datastore on shutdown; every write is already committed, and a later one fails
        (sqlite raises on a closed connection) instead of being acknowledged without being stored."""
        with self.lock:
            if self.database:
                self.database.close()
