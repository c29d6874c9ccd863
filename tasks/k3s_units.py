"""Ensures the k3s systemd unit carries the ``/dev/kmsg`` fix and runs what the deploy installed.

``k3s_unit_source: deploy`` writes the whole unit from a template; ``installer`` keeps the upstream
installer's unit and adds a drop-in, which survives the installer rewriting the unit on upgrade.
The unit is restarted only when one of its inputs (binary, config, token, unit files) changed since
the last restart, which a stamp file records, so a deploy that failed half-way still restarts on
its next run and a no-op run restarts nothing.

The stamp's inputs are gathered in one place (:func:`k3s_inputs`): the deploy installs them, and
the rolling upgrade (tasks/upgrade.py) rewrites the stamp after it restarted a node on a new binary,
so the next deploy finds nothing to restart.

The restart does not block: a k3s server's start can wait indefinitely (``TimeoutStartSec=0``, e.g.
for etcd peers), so readiness is the job of ``tasks.k3s_ready``, which polls with a deadline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyinfra import host, inventory
from pyinfra.api import FunctionCommand, OperationError, StringCommand, operation
from pyinfra.api.operation import OperationMeta

from facts.host_before import installed_unit
from facts.k3s_units import k3s_unit_state
from facts.managed_state import Managed, changing, managed, managing
from facts.names import K3S_UNITS, KMSG_EXEC_START_PRE, SYSTEMD_DIR
from facts.preflight import PreflightReport
from tasks import render
from tasks.airgap_images import archives, file_sha256
from tasks.desired_files import DesiredFile, file_commands, text_file
from tasks.k3s_binary import desired_sha256
from tasks.k3s_config import config_files
from tasks.k3s_ready import note_restart
from tasks.preflight_checks import k3s_config_fixes
from tasks.settings import data_error, one_of

STAMP_DIR = "/var/lib/k3s-lxc-resilience"
# host name -> its binary, config and unit operations in this run (pyinfra prepares every host
# before it executes any): the restart + verify at the end of the deploy runs when one changed.
K3S_INPUT_OPERATIONS: dict[str, list[OperationMeta]] = {}


def k3s_changed_anywhere() -> bool:
    """True once a k3s host still in the run changed its binary, config or unit in this run.

    Example:
        restart_and_verify(_if=k3s_changed_anywhere)
    """
    return any(
        meta.is_complete() and meta.did_change()
        for member in inventory.iter_activated_hosts()
        for meta in K3S_INPUT_OPERATIONS.get(member.name, [])
    )


def restart_noted() -> FunctionCommand:
    """Note the control node's clock as this node's restart moment, for the Ready wait that follows
    (tasks.k3s_ready): a heartbeat counts only if it was posted after it."""
    return FunctionCommand(note_restart, (), {})


def unit_name() -> str:
    """``k3s.service`` on control nodes, ``k3s-agent.service`` on workers."""
    return K3S_UNITS[one_of("k3s_role")]


def unit_source() -> str:
    """``deploy`` or ``installer``: ``k3s_unit_source``, where ``auto`` adopts a unit the deploy did not
    write (an install.sh install keeps its unit, its ``.env`` file and its flags).

    A ``deploy`` that would replace such a unit and drop flags of its ``ExecStart`` is refused.
    """
    chosen = one_of("k3s_unit_source")
    installed = installed_unit(unit_name())
    if chosen == "auto":
        return "installer" if installed["writer"] == "other" else "deploy"
    if chosen == "deploy" and installed["writer"] == "other" and installed["flags"]:
        raise data_error("k3s_unit_source", f"deploy would replace {unit_name()}, which the deploy did not write, "
                                            f"and drop its ExecStart flags {' '.join(installed['flags'])}: move them "
                                            "into k3s_config, or set auto to keep that unit")
    return chosen


def unit_files() -> list[DesiredFile]:
    """The unit (``deploy``) or its kmsg drop-in (``installer``), per :func:`unit_source`."""
    unit = unit_name()
    if unit_source() == "deploy":
        return [text_file(f"{SYSTEMD_DIR}/{unit}", render(f"{unit}.j2", kmsg_exec_start_pre=KMSG_EXEC_START_PRE))]
    drop_in = render("10-kmsg.conf.j2", unit=unit, kmsg_exec_start_pre=KMSG_EXEC_START_PRE)
    return [text_file(f"{SYSTEMD_DIR}/{unit}.d/10-kmsg.conf", drop_in)]


def applied_stamp(input_digests: list[str]) -> DesiredFile:
    """A file whose content names the inputs the running k3s was (re)started with."""
    combined = hashlib.sha256("\n".join(input_digests).encode()).hexdigest()
    return text_file(f"{STAMP_DIR}/{unit_name()}.applied", f"{combined}\n", mode="600")


@dataclass(frozen=True)
class K3sInputs:
    """What this host's k3s unit runs with: the binary (by sha256), its config files, its unit
    files and the image archives it imports at start, and the stamp over all of them."""

    binary_sha256: str
    config: list[DesiredFile]
    units: list[DesiredFile]
    image_archives: list[Path]

    @property
    def stamp(self) -> DesiredFile:
        return applied_stamp([self.binary_sha256, *(desired.sha256 for desired in self.config + self.units),
                              *(file_sha256(archive) for archive in self.image_archives)])


def k3s_inputs(report: PreflightReport | None) -> K3sInputs:
    """This host's k3s inputs from its data and its preflight report (whose fixes go into config.yaml).

    Example:
        inputs = k3s_inputs(preflight())
        k3s_unit(name="k3s unit", unit=unit_name(), files=inputs.units, stamp=inputs.stamp)
    """
    return K3sInputs(desired_sha256(), config_files(k3s_config_fixes(report)), unit_files(), archives())


@managing(lambda unit, files, stamp, **_: Managed(paths=[*(desired.path for desired in files), stamp.path],
                                                  units=[unit]))
@operation()
def k3s_unit(unit: str, files: list[DesiredFile], stamp: DesiredFile) -> Generator[Any, None, None]:
    """
    Write the unit files, then daemon-reload, enable and restart the unit when any input changed;
    otherwise only make sure it is enabled and running.

    + unit: ``k3s.service`` or ``k3s-agent.service``
    + files: from ``unit_files()``
    + stamp: ``k3s_inputs(...).stamp``, over the digests of everything the unit runs with

    **Example:**

    .. code:: python

        inputs = k3s_inputs(preflight_report)
        k3s_unit(name="k3s unit", unit=unit_name(), files=inputs.units, stamp=inputs.stamp)
    """
    read = managed(paths=[*(desired.path for desired in files), stamp.path], units=[unit])
    state = k3s_unit_state(read["files"], read["units"][unit])
    changes = list(file_commands(files, state["files"]))
    if state["load_state"] != "loaded" and not any(desired.path.endswith(f"/{unit}") for desired in files):
        raise OperationError(
            f"{unit} is not installed; k3s_unit_source: installer needs the upstream installer's unit"
        )
    applied = state["files"].get(stamp.path)
    if changes or not applied or applied["sha256"] != stamp.sha256:
        yield from changes
        changing(units=[unit])
        yield restart_noted()
        yield StringCommand(
            "systemctl", "daemon-reload", "&&", "systemctl", "enable", unit,
            "&&", "systemctl", "restart", "--no-block", unit,
        )
        yield from file_commands([stamp], {})
    elif state["unit_file_state"] != "enabled" or state["active_state"] != "active":
        changing(units=[unit])
        yield restart_noted()
        yield StringCommand("systemctl", "enable", unit, "&&", "systemctl", "start", "--no-block", unit)
    else:
        host.noop(f"{unit} is enabled, running and current")
