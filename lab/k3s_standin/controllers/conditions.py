"""Status conditions as Kubernetes keeps them: lastTransitionTime changes only when status does.

Example:
    set_condition(status, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now)
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def set_condition(status: Obj, kind: str, value: str, reason: str, message: str, now: str,
                  update_stamp: str = "lastUpdateTime") -> bool:
    """Upsert one condition in `status["conditions"]`; False when it already says exactly this."""
    conditions = status.setdefault("conditions", [])
    for item in conditions:
        if item.get("type") != kind:
            continue
        if (item.get("status"), item.get("reason"), item.get("message")) == (value, reason, message):
            return False
        if item.get("status") != value:
            item["lastTransitionTime"] = now
        item.update(status=value, reason=reason, message=message)
        if update_stamp:
            item[update_stamp] = now
        return True
    item = {"type": kind, "status": value, "reason": reason, "message": message, "lastTransitionTime": now}
    if update_stamp:
        item[update_stamp] = now
    conditions.append(item)
    return True
