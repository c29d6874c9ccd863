"""Kubernetes timestamps (RFC 3339, seconds, UTC) and their parsing.

Example:
    rfc3339()                             # "2025-11-24T16:05:01Z"
    parse("2025-11-24T16:05:01Z")         # epoch seconds
"""

from __future__ import annotations

import calendar
import time


def rfc3339(epoch: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if epoch is None else epoch))


def parse(stamp: str) -> float:
    """Epoch seconds of a `metav1.Time` or `MicroTime` string."""
    base = stamp.rstrip("Z").split(".")[0]
    fraction = float("0." + stamp.rstrip("Z").split(".")[1]) if "." in stamp else 0.0
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + fraction


def micro(epoch: float | None = None) -> str:
    """`metav1.MicroTime` as leases use it."""
    now = time.time() if epoch is None else epoch
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
