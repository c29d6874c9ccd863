"""The kubelet's first step, as in k3s: open `/dev/kmsg` (its OOM watcher reads it). LXC drops the
device on every container start, which is the failure this lab reproduces.

Example:
    error = open_kmsg()   # None, or "failed to run Kubelet: failed to create kubelet: open /dev/kmsg: ..."
"""

from __future__ import annotations

import os

KMSG = "/dev/kmsg"


def open_kmsg(device: str = KMSG) -> str | None:
    """None when the device opens, else the kubelet's error text with the real errno text."""
    try:
        fd = os.open(device, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        return f"failed to run Kubelet: failed to create kubelet: open {device}: {reason}"
    os.close(fd)
    return None
