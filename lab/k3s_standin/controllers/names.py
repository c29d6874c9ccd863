"""Generated names as Kubernetes controllers make them (`<rs>-<5 chars>`, pod-template-hash).

Example:
    template_hash({"metadata": {...}, "spec": {...}})  # "7c9b8d5f4"
    suffix()                                           # "x7k2p"
"""

from __future__ import annotations

import json
import secrets
from typing import Any

# apimachinery's rand alphabet: no vowels (no words) and no confusable characters.
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def suffix(length: int = 5) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def template_hash(template: dict[str, Any]) -> str:
    """FNV-32a of the pod template, encoded with SafeEncodeString like the deployment controller."""
    digits = str(fnv32a(json.dumps(template, sort_keys=True).encode()))
    return "".join(ALPHABET[ord(char) % len(ALPHABET)] for char in digits)


def owner_reference(api_version: str, kind: str, owner: dict[str, Any]) -> dict[str, Any]:
    """A controller ownerReference to `owner`."""
    meta = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controlled_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = owner["metadata"].get("uid")
    return any(ref.get("controller") and ref.get("uid") == uid
               for ref in obj["metadata"].get("ownerReferences") or [])
