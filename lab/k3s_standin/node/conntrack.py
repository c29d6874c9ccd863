"""kube-proxy's conntrack setup at start (1.36 semantics: failure is fatal): raise
`nf_conntrack_max` to max(conntrack-min, conntrack-max-per-core x CPUs) unless
`conntrack-max-per-core=0`. Inside an LXC container the file is read-only, which is the real failure.

Example:
    error = ensure_max({"conntrack-max-per-core": "0"})   # None: left alone
"""

from __future__ import annotations

import os

MAX_FILE = "/proc/sys/net/netfilter/nf_conntrack_max"
DEFAULT_PER_CORE = 32768
DEFAULT_MIN = 131072


def desired_max(proxy_args: dict[str, str], cpus: int) -> int:
    """0 means "leave the limit alone", as kube-proxy treats conntrack-max-per-core=0."""
    per_core = int(proxy_args.get("conntrack-max-per-core", DEFAULT_PER_CORE))
    if per_core <= 0:
        return 0
    return max(int(proxy_args.get("conntrack-min", DEFAULT_MIN)), per_core * cpus)


def error_text(error: OSError, file_name: str) -> str:
    """Go's `*PathError` text: `open <path>: permission denied`."""
    return f"open {file_name}: {(error.strerror or str(error)).lower()}"


def ensure_max(proxy_args: dict[str, str], file_name: str = MAX_FILE) -> str | None:
    """Raise the limit if it is lower than wanted; the error text when that fails, else None."""
    wanted = desired_max(proxy_args, len(os.sched_getaffinity(0)))
    if wanted == 0:
        return None
    try:
        with open(file_name, encoding="ascii") as handle:
            current = int(handle.read().strip() or 0)
        if current >= wanted:
            return None
        with open(file_name, "w", encoding="ascii") as handle:
            handle.write(f"{wanted}\n")
    except OSError as error:
        return error_text(error, file_name)
    return None
