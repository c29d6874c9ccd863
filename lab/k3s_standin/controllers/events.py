"""core/v1 Events as controllers record them (`kubectl describe` and `kubectl get events` show these).

Example:
    record(api, "Pod", pod, "Warning", "FailedScheduling", message, "default-scheduler")
"""

from __future__ import annotations

import secrets
from typing import Any

from k3s_standin.client import Client, path
from k3s_standin.controllers.clock import rfc3339

Obj = dict[str, Any]


def record(api: Client, kind: str, obj: Obj, kind_type: str, reason: str, message: str, component: str) -> None:
    """Create one Event about `obj` (namespace `default` for cluster-scoped objects, as Kubernetes does)."""
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"
    now = rfc3339()
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": namespace},
        "involvedObject": {"apiVersion": obj.get("apiVersion", "v1"), "kind": kind,
                           "name": meta["name"], "namespace": meta.get("namespace", ""),
                           "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")},
        "reason": reason, "message": message, "type": kind_type, "count": 1,
        "firstTimestamp": now, "lastTimestamp": now,
        "source": {"component": component}, "reportingComponent": component,
    }
    api.create(path("v1", "events", namespace), event)
