"""Ensures the node watcher on control nodes: script, oneshot service, timer, env file, logrotate; with
several servers (each runs it) also the Lease lock script, so one run acts at a time cluster-wide."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from pyinfra.api import operation

from facts.managed_state import Managed, managing
from facts.names import K3S_UNITS, SYSTEMD_DIR
from facts.node_watcher import ENV_FILE, LEASE, LEASE_SCRIPT, LOG, SCRIPT, SERVICE, TIMER
from tasks import render
from tasks.cluster_lock import LOCK_SCRIPT
from tasks.control_plane import is_ha
from tasks.desired_files import DesiredFile, text_file
from tasks.settings import flag, time_span, url, whole_number
from tasks.systemd_timer import timer_commands

# The watcher as this checkout ships it; SCRIPT is where it is installed.
SCRIPT_SOURCE = Path(__file__).resolve().parent / "files" / "k3s_node_watcher.py"


def watcher_files() -> list[DesiredFile]:
    """Every file of the watcher, rendered from host data (``watcher_*`` keys)."""
    lease = LEASE if is_ha() else ""
    lease_files = [text_file(LEASE_SCRIPT, LOCK_SCRIPT.read_text(), mode="755")] if lease else []
    return lease_files + [
        text_file(SCRIPT, SCRIPT_SOURCE.read_text(), mode="755"),
        text_file(f"{SYSTEMD_DIR}/{SERVICE}", render(
            "k3s-node-watcher.service.j2", k3s_unit=K3S_UNITS["server"], script=SCRIPT, env_file=ENV_FILE,
            alert_after=whole_number("watcher_alert_after"), remove_regardless=flag("watcher_remove_regardless"),
            lease=lease, lease_script=LEASE_SCRIPT,
        )),
        text_file(f"{SYSTEMD_DIR}/{TIMER}", render(
            "k3s-node-watcher.timer.j2", service=SERVICE,
            on_boot_sec=time_span("watcher_on_boot_sec"),
            interval=time_span("watcher_interval"),
        )),
        text_file(ENV_FILE, render("k3s-node-watcher.env.j2", webhook_url=url("watcher_webhook_url")),
                  mode="600", secret=True),
        text_file("/etc/logrotate.d/k3s-node-watcher", render("k3s-node-watcher.logrotate.j2", log=LOG)),
    ]


@managing(lambda files, **_: Managed(paths=[desired.path for desired in files], units=[TIMER, SERVICE]))
@operation()
def node_watcher(files: list[DesiredFile]) -> Generator[Any, None, None]:
    """
    Install the watcher's files and keep its timer enabled and running; systemd reloads and the
    timer restarts only when a unit file changed.

    + files: from ``watcher_files()``

    **Example:**

    .. code:: python

        node_watcher(name="Node watcher", files=watcher_files())
    """
    yield from timer_commands(TIMER, SERVICE, files)
