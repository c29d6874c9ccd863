"""Opt-in, on ``proxmox_hosts``: the repair runs on a systemd timer on the Proxmox host.

A Proxmox host whose inventory entry has ``data: {repair_timer: true}`` gets
``k3s-node-repair.service`` and ``.timer``: every ``repair_timer_interval`` (a systemd time span,
counted from the end of the last run) the service runs this checkout's
``repair.py -y`` with its venv, against the inventory this deploy was run with, under the limits
that inventory sets (``repair_max_nodes`` and the other ``repair_*`` settings). Its log,
Prometheus textfile and attempt counts go to the host's ``repair_log_file``, ``repair_textfile``
and ``repair_state_file`` (defaults below).

Only a Proxmox host that is this machine (``local: true``) can have the timer: the checkout, its
venv and the inventory are here. ``repair_timer: false`` (or absent) removes a timer installed before.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyinfra import host, inventory
from pyinfra.api import deploy, operation
from pyinfra.connectors.local import LocalConnector
from pyinfra.facts.files import Directory, File
from pyinfra.operations import files, systemd

from facts.managed_state import Managed, managing
from facts.names import SYSTEMD_DIR
from inventory_schema import inventory_path
from tasks import render
from tasks.desired_files import DesiredFile, text_file
from tasks.settings import SETTINGS, TIME_SPAN, InvalidField, data_error, flag
from tasks.systemd_timer import timer_commands

CHECKOUT = Path(__file__).resolve().parent.parent
SERVICE = "k3s-node-repair.service"
TIMER = "k3s-node-repair.timer"
UNIT_PATHS = (f"{SYSTEMD_DIR}/{SERVICE}", f"{SYSTEMD_DIR}/{TIMER}")
DEFAULT_PATHS = {
    "repair_log_file": "/var/log/k3s-node-repair.log",
    "repair_textfile": "/var/lib/node_exporter/textfile_collector/k3s_node_repair.prom",
    "repair_state_file": "/var/lib/k3s-node-repair/state.json",
}
# What a unit file line takes literally: no spaces, quotes, `%` specifiers or `$` variables.
UNIT_PATH = re.compile(r"^/[A-Za-z0-9._+,:@=/-]*$")
REMOTE = ("only a Proxmox host that is this machine (local: true) can run the timer: "
          "it runs this checkout's repair.py and venv")


@dataclass(frozen=True)
class RepairTimer:
    """What the timer's units name: absolute paths and the interval."""

    checkout: Path
    inventory: Path
    interval: str
    log_file: str
    textfile: str
    state_file: str

    @property
    def python(self) -> Path:
        return self.checkout / ".venv" / "bin" / "python"


def interval_problem(value: str) -> str:
    """Empty for a systemd time span longer than zero, else what is wrong with it.

    Example:
        interval_problem("90s") == ""
    """
    if not TIME_SPAN.match(value):
        return f"{value!r} is not a systemd time span such as 2min or 90s"
    if not re.search(r"[1-9]", value):
        return f"{value!r} is zero: the timer would fire without pause"
    return ""


def path_problem(value: str) -> str:
    """Empty for an absolute path a unit file reads literally, else what is wrong with it."""
    if not UNIT_PATH.match(value):
        return f"{value!r} must be an absolute path of letters, digits and ._+,:@=/- (a unit file reads it)"
    return ""


def timer_settings(data: Mapping[str, Any], local: bool, inventory_file: Path,
                   checkout: Path = CHECKOUT) -> RepairTimer:
    """The timer a Proxmox host opted into, checked; raises ``InvalidField`` naming the field.

    Example:
        timer_settings({"repair_timer_interval": "90s"}, local=True, inventory_file=Path("/root/cluster.yml"))
    """
    if not local:
        raise InvalidField("repair_timer", REMOTE)
    interval = str(data.get("repair_timer_interval", SETTINGS["repair_timer_interval"].default))
    if problem := interval_problem(interval):
        raise InvalidField("repair_timer_interval", problem)
    paths = {key: str(data.get(key) or default) for key, default in DEFAULT_PATHS.items()}
    for key, value in paths.items():
        if problem := path_problem(value):
            raise InvalidField(key, problem)
    for what, path in (("checkout", checkout), ("inventory", inventory_file)):
        if problem := path_problem(str(path)):
            raise InvalidField("repair_timer", f"the {what} path {problem}")
    timer = RepairTimer(checkout, inventory_file, interval, paths["repair_log_file"], paths["repair_textfile"],
                        paths["repair_state_file"])
    if not timer.python.is_file():
        raise InvalidField("repair_timer", f"{timer.python} is missing: run `make setup` in {checkout}")
    return timer


def unit_files(timer: RepairTimer) -> dict[str, str]:
    """The service's and the timer's unit file, by path."""
    return {
        f"{SYSTEMD_DIR}/{SERVICE}": render(
            "k3s-node-repair.service.j2", checkout=timer.checkout, inventory=timer.inventory,
            python=timer.python, log_file=timer.log_file, textfile=timer.textfile, state_file=timer.state_file,
        ),
        f"{SYSTEMD_DIR}/{TIMER}": render("k3s-node-repair.timer.j2", interval=timer.interval),
    }


def is_this_machine() -> bool:
    return issubclass(host.connector_cls, LocalConnector)


def wanted_timer() -> RepairTimer | None:
    """This Proxmox host's timer from its data, ``None`` when it has not opted in; a bad value is
    a one-line data error naming the host and the field."""
    if not flag("repair_timer"):
        return None
    try:
        return timer_settings(host.data.dict(), is_this_machine(), inventory_path().resolve())
    except InvalidField as error:
        raise data_error(error.field, error.problem) from None


def timer_installed(timer: RepairTimer) -> None:
    """The unit files, then the timer enabled and running; systemd reloads and the timer restarts
    only when a unit file changed."""
    if not host.get_fact(Directory, path="/run/systemd/system"):
        raise data_error("repair_timer", "this machine does not run systemd (no /run/systemd/system)")
    repair_timer_units(name="Repair timer: units, enabled and running",
                       files=[text_file(path, content) for path, content in unit_files(timer).items()])


@managing(lambda files, **_: Managed(paths=[desired.path for desired in files], units=[TIMER, SERVICE]))
@operation()
def repair_timer_units(files: list[DesiredFile]) -> Generator[Any, None, None]:
    """
    Install the repair's service and timer units and keep the timer enabled and running; systemd
    reloads and the timer restarts only when a unit file changed.

    + files: the unit files, from ``unit_files()``

    **Example:**

    .. code:: python

        units = [text_file(path, content) for path, content in unit_files(timer).items()]
        repair_timer_units(name="Repair timer", files=units)
    """
    yield from timer_commands(TIMER, SERVICE, files)


def timer_removed() -> None:
    """Stop and disable the timer and remove its units, when they are there (an opt-out). A run in
    progress finishes: stopping it halfway could leave a container started but not its k3s."""
    present = [path for path in UNIT_PATHS if host.get_fact(File, path=path)]
    if not present:
        return
    systemd.service(name="Repair timer: stopped and disabled", service=TIMER, running=False, enabled=False)
    for path in present:
        files.file(name=f"Repair timer: {posixpath.basename(path)} removed", path=path, present=False)
    systemd.daemon_reload(name="Repair timer: systemd reload after removal")


@deploy("Repair timer")
def repair_timer() -> None:
    """
    On a Proxmox host that is this machine: the repair on a timer when its data says
    ``repair_timer: true``, else no timer (one installed before is removed).

    **Example:**

    .. code:: python

        repair_timer()
    """
    if host not in inventory.get_group("proxmox_hosts", []):
        return
    timer = wanted_timer()
    if timer is not None:
        timer_installed(timer)
    elif is_this_machine():
        timer_removed()
