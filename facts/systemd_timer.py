"""State of a service run by a timer: the files that make it up, the timer and the last run, from the
host's one read of what the deploy manages (``facts.managed_state``)."""

from __future__ import annotations

from typing import TypedDict

from facts.file_digests import FileDigest
from facts.systemctl_show import first


class TimerUnitsState(TypedDict):
    """Digests of the managed files, the timer's state, and the service's last result and exit status."""

    files: dict[str, FileDigest | None]
    timer_active: str
    timer_enabled: str
    last_result: str
    last_exit_status: int | None
    last_run: str


def timer_units_state(files: dict[str, FileDigest | None], timer: dict[str, list[str]],
                      service: dict[str, list[str]]) -> TimerUnitsState:
    """
    The files, the timer's and the service's ``systemctl show`` properties as one state.

    ``last_exit_status`` is the service's own exit code (the node watcher's: 0 healthy,
    10 repaired, 20 API unreachable, 30 NotReady nodes reported); ``None`` before the first run.

    .. code:: python

        timer_units_state({"/usr/local/bin/k3s-node-watcher": {"mode": "755", "sha256": "..."}},
                          timer_properties, service_properties)
        {"files": {"/usr/local/bin/k3s-node-watcher": {"mode": "755", "sha256": "..."}},
         "timer_active": "active", "timer_enabled": "enabled",
         "last_result": "success", "last_exit_status": 10,
         "last_run": "Mon 2024-11-25 10:02:11 UTC"}
    """
    started = first(service, "ExecMainStartTimestamp")
    return TimerUnitsState(
        files=files,
        timer_active=first(timer, "ActiveState"),
        timer_enabled=first(timer, "UnitFileState"),
        last_result=first(service, "Result"),
        last_exit_status=int(first(service, "ExecMainStatus")) if started else None,
        last_run=first(service, "ExecMainExitTimestamp"),
    )
