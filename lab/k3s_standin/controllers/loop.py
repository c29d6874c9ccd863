"""Run a reconcile function periodically on a daemon thread, surviving its errors like a controller's workqueue.

Example:
    every("scheduler", 1.0, scheduler.reconcile)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from k3s_standin.controllers import log


def every(name: str, period: float, reconcile: Callable[[], None]) -> threading.Thread:
    """Start a daemon thread calling `reconcile` every `period` seconds; errors are logged and retried."""
    def run() -> None:
        last_error = ""
        while True:
            started = time.monotonic()
            try:
                reconcile()
                last_error = ""
            except Exception as error:  # noqa: BLE001 - a controller must outlive any single failure
                text = f"{name}: {error}"
                if text != last_error:
                    log.error(text)
                last_error = text
            time.sleep(max(0.05, period - (time.monotonic() - started)))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
