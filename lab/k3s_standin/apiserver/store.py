"""In-memory object store with a global resourceVersion, a change log for watches, and persistence.

Stored objects are never mutated: every write stores a new dict, so readers may hold references
without copying. The state is saved to `state.json` (atomically, debounced) so a restart of the
server keeps every object, as etcd/kine does for k3s.

Example:
    store = Store("/var/lib/rancher/k3s/server/db/state.json")
    store.put("/nodes", node)
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import os
import tempfile
import threading
import time
from typing import Any

from k3s_standin.apiserver.errors import gone

Obj = dict[str, Any]
SAVE_DELAY = 0.5
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

    def __init__(self, state_file: str | None) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self.revision = 1
        self.log: list[Change] = []
        self.compacted = 1
        self.state_file = state_file
        self._dirty = threading.Event()
        self._save_lock = threading.Lock()
        if state_file:
            self._load()
            threading.Thread(target=self._save_loop, name="store-save", daemon=True).start()

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

    def put(self, key: str, obj: Obj, event: str) -> Obj:
        """Store `obj` (ADDED or MODIFIED) under a new resourceVersion; returns the stored object."""
        with self.lock:
            self.revision += 1
            obj["metadata"]["resourceVersion"] = str(self.revision)
            previous = self.objects.setdefault(key, {}).get(object_key(obj))
            self.objects[key][object_key(obj)] = obj
            self._record(Change(self.revision, key, event, obj, previous))
            return obj

    def remove(self, key: str, obj: Obj) -> Obj:
        with self.lock:
            self.objects.get(key, {}).pop(object_key(obj), None)
            self.revision += 1
            gone_obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.revision)}}
            self._record(Change(self.revision, key, "DELETED", gone_obj, obj))
            return gone_obj

    def _record(self, change: Change) -> None:
        self.log.append(change)
        if len(self.log) > 2 * LOG_LIMIT:
            self.compacted = self.log[-LOG_LIMIT - 1].revision
            del self.log[:-LOG_LIMIT]
        self._dirty.set()
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

    def _load(self) -> None:
        try:
            with open(self.state_file, encoding="utf-8") as handle:
                state = json.load(handle)
        except FileNotFoundError:
            return
        self.revision = int(state["revision"])
        self.compacted = self.revision
        for key, objects in state["objects"].items():
            self.objects[key] = {object_key(obj): obj for obj in objects}

    def _snapshot(self) -> Obj:
        with self.lock:
            return {"revision": self.revision,
                    "objects": {key: list(objects.values()) for key, objects in self.objects.items()}}

    def save(self) -> None:
        """Write the state now (atomic rename); used on shutdown and by the debounced saver."""
        if not self.state_file:
            return
        with self._save_lock:
            self._dirty.clear()
            data = json.dumps(self._snapshot(), separators=(",", ":"))
            directory = os.path.dirname(self.state_file)
            os.makedirs(directory, mode=0o700, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=directory, prefix=".state-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.state_file)

    def _save_loop(self) -> None:
        while True:
            self._dirty.wait()
            time.sleep(SAVE_DELAY)
            self.save()
