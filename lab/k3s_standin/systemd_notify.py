"""Tell systemd that k3s is up, as k3s does: its upstream server unit is ``Type=notify``.

Example:
    notify_ready()   # no-op unless systemd set NOTIFY_SOCKET
"""

from __future__ import annotations

import os
import socket


def notify_ready() -> None:
    """Send ``READY=1`` to ``$NOTIFY_SOCKET`` (a leading ``@`` names an abstract socket)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.connect(address)
        notify.sendall(b"READY=1")
