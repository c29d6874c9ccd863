"""Ensures the node watcher on control nodes: script, oneshot service, timer, env file, logrotate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyinfra import host
from pyinfra.api import StringCommand, operation

from facts.node_watcher import SERVICE, TIMER, NodeWatcher
from tasks import DesiredFile, data_error, file_commands, render, text_file

SCRIPT = Path(__file__).resolve().parent.parent / "files" / "k3s-node-watcher"
SYSTEMD_DIR = "/etc/systemd/system"
TIME_SPAN = re.compile(r"^(\d+(\.\d+)?\s*(us|ms|s|sec|seconds?|m|min|minutes?|h|hr|hours?|d|days?|w|weeks?)?\s*)+$")


def _time_span(key: str, default: str) -> str:
    value = str(host.data.get(key, default))
    if not TIME_SPAN.match(value):
        raise data_error(key, f"{value!r} is not a systemd time span such as 2min or 90s")
    return value


def watcher_files() -> list[DesiredFile]:
    """Every file of the watcher, rendered from host data (``watcher_*`` keys)."""
    alert_after = host.data.get("watcher_alert_after", 3)
    if not isinstance(alert_after, int) or isinstance(alert_after, bool) or alert_after < 0:
        raise data_error("watcher_alert_after", "must be a whole number of runs (0: never alert)")
    remove_regardless = host.data.get("watcher_remove_regardless", False)
    if not isinstance(remove_regardless, bool):
        raise data_error("watcher_remove_regardless", "must be true or false")
    webhook_url = str(host.data.get("watcher_webhook_url") or "")
    if webhook_url and not re.match(r"^https?://\S+$", webhook_url):
        raise data_error("watcher_webhook_url", "must be an http(s) URL without spaces")
    return [
        text_file("/usr/local/bin/k3s-node-watcher", SCRIPT.read_text(), mode="755"),
        text_file(f"{SYSTEMD_DIR}/{SERVICE}", render(
            "k3s-node-watcher.service.j2", k3s_unit="k3s.service",
            alert_after=alert_after, remove_regardless=remove_regardless,
        )),
        text_file(f"{SYSTEMD_DIR}/{TIMER}", render(
            "k3s-node-watcher.timer.j2",
            on_boot_sec=_time_span("watcher_on_boot_sec", "2min"),
            interval=_time_span("watcher_interval", "2min"),
        )),
        text_file("/etc/default/k3s-node-watcher", render("k3s-node-watcher.env.j2", webhook_url=webhook_url),
                  mode="600", secret=True),
        text_file("/etc/logrotate.d/k3s-node-watcher", render("k3s-node-watcher.logrotate.j2")),
    ]


@operation()
def node_watcher(files: list[DesiredFile]) -> Iterator[Any]:
    """
    Install the watcher's files and keep its timer enabled and running; systemd reloads and the
    timer restarts only when a unit file changed.

    + files: from ``watcher_files()``

    **Example:**

    .. code:: python

        node_watcher(name="Node watcher", files=watcher_files())
    """
    state = host.get_fact(NodeWatcher, paths=[desired.path for desired in files])
    changed = [desired for desired in files if list(file_commands([desired], state["files"]))]
    yield from file_commands(changed, state["files"])
    if any(desired.path.startswith(SYSTEMD_DIR) for desired in changed):
        yield StringCommand(
            "systemctl", "daemon-reload", "&&", "systemctl", "enable", TIMER, "&&", "systemctl", "restart", TIMER,
        )
    elif state["timer_enabled"] != "enabled" or state["timer_active"] != "active":
        yield StringCommand("systemctl", "enable", "--now", TIMER)
    elif not changed:
        host.noop("node watcher is installed and its timer is active")
