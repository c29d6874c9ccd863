"""State of the node watcher on a control node: its files, its timer and its last run."""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase

from facts.file_digests import FileDigest, digest_script, parse_digest_lines
from facts.sections import split_sections
from facts.systemctl_show import first, systemctl_show

SYSTEMCTL_MARKER = "--- systemctl show"
TIMER = "k3s-node-watcher.timer"
SERVICE = "k3s-node-watcher.service"
SCRIPT = "/usr/local/bin/k3s-node-watcher"
ENV_FILE = "/etc/default/k3s-node-watcher"
# The script's own --log-file default: it runs alone on the host.
LOG = "/var/log/k3s-node-watcher.log"


class NodeWatcherState(TypedDict):
    """Digests of the managed files, timer state, and the service's last result and exit status."""

    files: dict[str, FileDigest | None]
    timer_active: str
    timer_enabled: str
    last_result: str
    last_exit_status: int | None
    last_run: str


class NodeWatcher(FactBase[NodeWatcherState]):
    """
    Digests of ``paths``, the watcher timer's state and the last run of its service.

    ``last_exit_status`` is the watcher's own exit code (0 healthy, 10 repaired, 20 API
    unreachable, 30 NotReady nodes reported); ``None`` before the first run.

    .. code:: python

        host.get_fact(NodeWatcher, paths=["/usr/local/bin/k3s-node-watcher"])
        {"files": {"/usr/local/bin/k3s-node-watcher": {"mode": "755", "sha256": "..."}},
         "timer_active": "active", "timer_enabled": "enabled",
         "last_result": "success", "last_exit_status": 10,
         "last_run": "Mon 2024-11-25 10:02:11 UTC"}
    """

    def command(self, paths: list[str]) -> str:
        return (
            f"{digest_script(paths)}; echo {shlex.quote(SYSTEMCTL_MARKER)}; "
            f"systemctl show -p ActiveState,UnitFileState {TIMER}; "
            f"systemctl show -p Result,ExecMainStatus,ExecMainExitTimestamp,ExecMainStartTimestamp "
            f"{SERVICE}"
        )

    def process(self, output: list[str]) -> NodeWatcherState:
        sections = split_sections(output, SYSTEMCTL_MARKER)
        properties = systemctl_show(sections.get(SYSTEMCTL_MARKER, []))
        started = first(properties, "ExecMainStartTimestamp")
        return NodeWatcherState(
            files=parse_digest_lines(sections[""]),
            timer_active=first(properties, "ActiveState"),
            timer_enabled=first(properties, "UnitFileState"),
            last_result=first(properties, "Result"),
            last_exit_status=int(first(properties, "ExecMainStatus")) if started else None,
            last_run=first(properties, "ExecMainExitTimestamp"),
        )
