"""State of a service run by a timer: the files that make it up, the timer and the last run."""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase

from facts.file_digests import FileDigest, digest_script, parse_digest_lines
from facts.sections import split_sections
from facts.systemctl_show import first, systemctl_show

SYSTEMCTL_MARKER = "--- systemctl show"


class TimerUnitsState(TypedDict):
    """Digests of the managed files, the timer's state, and the service's last result and exit status."""

    files: dict[str, FileDigest | None]
    timer_active: str
    timer_enabled: str
    last_result: str
    last_exit_status: int | None
    last_run: str


class TimerUnits(FactBase[TimerUnitsState]):
    """
    Digests of ``paths``, the state of ``timer`` and the last run of ``service``.

    ``last_exit_status`` is the service's own exit code (the node watcher's: 0 healthy,
    10 repaired, 20 API unreachable, 30 NotReady nodes reported); ``None`` before the first run.

    .. code:: python

        host.get_fact(TimerUnits, timer="k3s-node-watcher.timer", service="k3s-node-watcher.service",
                      paths=["/usr/local/bin/k3s-node-watcher"])
        {"files": {"/usr/local/bin/k3s-node-watcher": {"mode": "755", "sha256": "..."}},
         "timer_active": "active", "timer_enabled": "enabled",
         "last_result": "success", "last_exit_status": 10,
         "last_run": "Mon 2024-11-25 10:02:11 UTC"}
    """

    def command(self, timer: str, service: str, paths: list[str]) -> str:
        return (
            f"{digest_script(paths)}; echo {shlex.quote(SYSTEMCTL_MARKER)}; "
            f"systemctl show -p ActiveState,UnitFileState {shlex.quote(timer)}; "
            f"systemctl show -p Result,ExecMainStatus,ExecMainExitTimestamp,ExecMainStartTimestamp "
            f"{shlex.quote(service)}"
        )

    def process(self, output: list[str]) -> TimerUnitsState:
        sections = split_sections(output, SYSTEMCTL_MARKER)
        properties = systemctl_show(sections.get(SYSTEMCTL_MARKER, []))
        started = first(properties, "ExecMainStartTimestamp")
        return TimerUnitsState(
            files=parse_digest_lines(sections[""]),
            timer_active=first(properties, "ActiveState"),
            timer_enabled=first(properties, "UnitFileState"),
            last_result=first(properties, "Result"),
            last_exit_status=int(first(properties, "ExecMainStatus")) if started else None,
            last_run=first(properties, "ExecMainExitTimestamp"),
        )
