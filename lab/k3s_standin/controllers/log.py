"""k3s-style (logrus text format) log lines on stderr, which systemd puts into the journal.

Example:
    info("Node k3s-worker-1 is now Unknown")
"""

from __future__ import annotations

import sys
import time


def emit(level: str, message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    print(f'time="{stamp}" level={level} msg="{escaped}"', file=sys.stderr, flush=True)


def info(message: str) -> None:
    emit("info", message)


def error(message: str) -> None:
    emit("error", message)
