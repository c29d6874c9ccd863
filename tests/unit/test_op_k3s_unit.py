"""k3s_unit: given the unit's state, the commands that write it and (re)start k3s only when an input changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyinfra.api import OperationError

from tasks.desired_files import text_file
from tasks.k3s_ready import RESTARTED_AT
from tasks.k3s_units import k3s_unit
from tests.unit.operation_outputs import host_state, run

UNIT = text_file("/etc/systemd/system/k3s-agent.service", "[Service]\nExecStart=/usr/local/bin/k3s agent\n")
DROP_IN = text_file("/etc/systemd/system/k3s-agent.service.d/10-kmsg.conf", "[Service]\n")
STAMP = text_file("/var/lib/k3s-lxc-resilience/k3s-agent.service.applied", "abc\n", mode="600")
CURRENT = {UNIT.path: {"mode": "644", "sha256": UNIT.sha256}, STAMP.path: {"mode": "600", "sha256": STAMP.sha256}}


def unit_state(files: dict[str, Any], load_state: str = "loaded", active_state: str = "active",
               unit_file_state: str = "enabled") -> dict[str, Any]:
    return host_state(files=files, units={"k3s-agent.service": {
        "LoadState": [load_state], "ActiveState": [active_state], "SubState": ["running"],
        "UnitFileState": [unit_file_state], "FragmentPath": [UNIT.path], "DropInPaths": [""]}})


@pytest.fixture(autouse=True)
def no_restarts_recorded() -> Iterator[None]:
    yield
    RESTARTED_AT.clear()


def test_a_new_unit_is_written_then_k3s_restarted_without_blocking_then_the_stamp():
    facts = unit_state({UNIT.path: None, STAMP.path: None}, load_state="not-found", active_state="inactive",
                       unit_file_state="")
    assert run(k3s_unit, facts=facts, unit="k3s-agent.service", files=[UNIT], stamp=STAMP)[0] == [
        "mkdir -p /etc/systemd/system",
        ["upload", UNIT.content.decode(), "/etc/systemd/system/.k3s-agent.service.new"],
        "chmod 644 /etc/systemd/system/.k3s-agent.service.new"
        " && mv -f /etc/systemd/system/.k3s-agent.service.new /etc/systemd/system/k3s-agent.service",
        ["note_restart"],
        "systemctl daemon-reload && systemctl enable k3s-agent.service && systemctl restart --no-block k3s-agent.service",
        "mkdir -p /var/lib/k3s-lxc-resilience",
        ["upload", "abc\n", "/var/lib/k3s-lxc-resilience/.k3s-agent.service.applied.new"],
        "chmod 600 /var/lib/k3s-lxc-resilience/.k3s-agent.service.applied.new"
        " && mv -f /var/lib/k3s-lxc-resilience/.k3s-agent.service.applied.new"
        " /var/lib/k3s-lxc-resilience/k3s-agent.service.applied",
    ]


def test_the_restart_moment_is_noted_on_the_control_nodes_clock_just_before_the_restart():
    commands, _ = run(k3s_unit, facts=unit_state({UNIT.path: None, STAMP.path: None}), unit="k3s-agent.service",
                      files=[UNIT], stamp=STAMP)
    noted = commands.index(["note_restart"])
    assert commands[noted + 1].startswith("systemctl daemon-reload")


def test_a_changed_input_elsewhere_restarts_k3s_through_the_stamp():
    stale = {**CURRENT, STAMP.path: {"mode": "600", "sha256": "0" * 64}}
    commands, _ = run(k3s_unit, facts=unit_state(stale), unit="k3s-agent.service", files=[UNIT], stamp=STAMP)
    assert commands[:2] == [["note_restart"],
        "systemctl daemon-reload && systemctl enable k3s-agent.service && systemctl restart --no-block k3s-agent.service"]


def test_a_stopped_current_unit_is_started_not_rewritten():
    commands, _ = run(k3s_unit, facts=unit_state(CURRENT, active_state="failed"), unit="k3s-agent.service",
                      files=[UNIT], stamp=STAMP)
    assert commands == [["note_restart"], "systemctl enable k3s-agent.service && systemctl start --no-block k3s-agent.service"]


def test_a_current_running_unit_is_a_noop():
    commands, host = run(k3s_unit, facts=unit_state(CURRENT), unit="k3s-agent.service", files=[UNIT], stamp=STAMP)
    assert (commands, host.noop_description) == ([], "k3s-agent.service is enabled, running and current")


def test_a_drop_in_without_the_installers_unit_is_an_error():
    facts = unit_state({DROP_IN.path: None, STAMP.path: None}, load_state="not-found")
    with pytest.raises(OperationError, match="k3s_unit_source: installer needs the upstream installer's unit"):
        run(k3s_unit, facts=facts, unit="k3s-agent.service", files=[DROP_IN], stamp=STAMP)
