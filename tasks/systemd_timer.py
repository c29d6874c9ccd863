"""A service run by a systemd timer, installed from its files: the one way the deploy installs a timer.

The files are written as ``tasks.desired_files`` writes any file; systemd reloads and the timer
restarts only when a unit file changed; otherwise the timer is only made enabled and active.

Example:

    yield from timer_commands("k3s-node-watcher.timer", "k3s-node-watcher.service", watcher_files())
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pyinfra import host
from pyinfra.api import StringCommand

from facts.managed_state import changing, managed
from facts.names import SYSTEMD_DIR
from facts.systemd_timer import timer_units_state
from tasks.desired_files import DesiredFile, file_commands


def timer_commands(timer: str, service: str, files: list[DesiredFile]) -> Iterator[Any]:
    """An operation's body: the files, then the timer reloaded, enabled and (re)started as needed.
    The operation notes the files and both units (``facts.managed_state.managing``)."""
    read = managed(paths=[desired.path for desired in files], units=[timer, service])
    state = timer_units_state(read["files"], read["units"][timer], read["units"][service])
    changed = [desired for desired in files if list(file_commands([desired], state["files"]))]
    yield from file_commands(changed, state["files"])
    if any(desired.path.startswith(f"{SYSTEMD_DIR}/") for desired in changed):
        changing(units=[timer, service])
        yield StringCommand(
            "systemctl", "daemon-reload", "&&", "systemctl", "enable", timer, "&&", "systemctl", "restart", timer,
        )
    elif state["timer_enabled"] != "enabled" or state["timer_active"] != "active":
        changing(units=[timer, service])
        yield StringCommand("systemctl", "enable", "--now", timer)
    elif not changed:
        host.noop(f"{service} is installed and {timer} is active")
