"""`?watch=true`: a chunked stream of `{"type": ..., "object": ...}` events, one JSON object per line.

Semantics of kube-apiserver's watch cache: resourceVersion "" or "0" starts with ADDED events for the
current objects; a known resourceVersion replays what changed after it; an expired one answers a
single ERROR event carrying a 410 Expired Status. Selectors are applied to both the old and the new
object, so an object that stops matching is sent as DELETED and one that starts matching as ADDED.
`sendInitialEvents=true` ends the initial events with a BOOKMARK annotated `k8s.io/initial-events-end`.

Example:
    for event in watch_events(operations, resource, "default", {"resourceVersion": "0"}): ...
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from k3s_standin.apiserver.errors import ApiError, bad_request
from k3s_standin.apiserver.operations import Operations
from k3s_standin.apiserver.resources import Resource
from k3s_standin.apiserver.selectors import parse_fields, parse_labels

Obj = dict[str, Any]
POLL_SECONDS = 2.0
BOOKMARK_SECONDS = 60.0


def _selected(resource: Resource, namespace: str, query: dict[str, str]) -> Callable[[Obj | None], bool]:
    labels = parse_labels(query.get("labelSelector", ""))
    fields = parse_fields(query.get("fieldSelector", ""), resource.fields, resource.kind)

    def selected(obj: Obj | None) -> bool:
        if obj is None:
            return False
        if namespace and obj["metadata"].get("namespace") != namespace:
            return False
        return labels(obj["metadata"].get("labels") or {}) and fields(obj)

    return selected


def _bookmark(resource: Resource, revision: int, initial_end: bool = False) -> Obj:
    metadata: Obj = {"resourceVersion": str(revision)}
    if initial_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"type": "BOOKMARK", "object": {"kind": resource.kind, "apiVersion": resource.api_version,
                                           "metadata": metadata}}


def _start_revision(query: dict[str, str]) -> int | None:
    """None means: begin with the current state (ADDED events)."""
    version = query.get("resourceVersion", "")
    if query.get("sendInitialEvents") == "true" or version in ("", "0"):
        return None
    try:
        return int(version)
    except ValueError as error:
        raise bad_request(f"invalid resource version: {version}") from error


def watch_events(operations: Operations, resource: Resource, namespace: str,
                 query: dict[str, str]) -> Iterator[Obj | None]:
    """Validate the request (raising `ApiError` before anything is sent), then return the event
    stream; it yields None while idle so the caller can check whether the client is still there."""
    selected = _selected(resource, namespace, query)
    since = _start_revision(query)
    timeout = float(query.get("timeoutSeconds") or random.uniform(1800, 3600))
    return _events(operations, resource, namespace, query, selected, since, time.monotonic() + timeout)


def _events(operations: Operations, resource: Resource, namespace: str, query: dict[str, str],
            selected: Callable[[Obj | None], bool], since: int | None,
            deadline: float) -> Iterator[Obj | None]:
    bookmarks = query.get("allowWatchBookmarks") == "true"
    if since is None:
        items, since = operations.list(resource, namespace, query.get("labelSelector", ""),
                                       query.get("fieldSelector", ""))
        for obj in items:
            yield {"type": "ADDED", "object": obj}
        if query.get("sendInitialEvents") == "true" and bookmarks:
            yield _bookmark(resource, since, initial_end=True)
    last_bookmark = time.monotonic()
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            changes, since = operations.store.changes(resource.key, since, min(remaining, POLL_SECONDS))
        except ApiError as error:
            yield {"type": "ERROR", "object": error.status()}
            return
        for change in changes:
            event = _event(change.type, selected(change.obj), selected(change.previous))
            if event:
                yield {"type": event, "object": change.obj}
        if not changes:
            if bookmarks and time.monotonic() - last_bookmark > BOOKMARK_SECONDS:
                yield _bookmark(resource, since)
                last_bookmark = time.monotonic()
            yield None


def _event(kind: str, now_selected: bool, was_selected: bool) -> str:
    if kind == "MODIFIED":
        if now_selected:
            return "MODIFIED" if was_selected else "ADDED"
        return "DELETED" if was_selected else ""
    if kind == "DELETED":
        return "DELETED" if was_selected else ""
    return kind if now_selected else ""
