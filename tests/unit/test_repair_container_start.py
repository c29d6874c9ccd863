"""Repair's container start is done only when ``pct status`` says running (an HA-managed container's
``pct start`` only queues the start), bounded, with one line naming host and vmid when it does not come."""

from __future__ import annotations

from typing import Any

import pytest
from pyinfra.connectors.util import CommandOutput, OutputLine

import tasks.repair.actions as actions
from tasks.repair.access import NodeAccess

WORKER = "k3s-worker-2"
HA_REQUEST = "Requesting HA start for CT 112"


class FakeProxmox:
    """A connected Proxmox host whose ``pct status`` answers come from ``statuses`` in turn (the
    last one repeats); every command is recorded."""

    def __init__(self, statuses: list[str]):
        self.name = "pve2"
        self.data = {"node_name": "pve2", "pct_command": "pct"}
        self.connected = True
        self.statuses = statuses
        self.commands: list[str] = []

    def run_shell_command(self, command: Any, **_: Any) -> tuple[bool, CommandOutput]:
        line = str(command.get_raw_value())
        self.commands.append(line)
        if "pct start" in line:
            return True, CommandOutput([OutputLine("stdout", HA_REQUEST)])
        if "pct status" in line:
            state = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return True, CommandOutput([OutputLine("stdout", f"status: {state}")])
        return True, CommandOutput([OutputLine("stdout", "running")])


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions, "POLL_SECONDS", 0)


def start(proxmox: FakeProxmox) -> tuple[bool, str]:
    return actions.start_container(NodeAccess(WORKER, None, proxmox, 112), timeout=60)


def test_queued_start_waits_until_the_container_runs():
    proxmox = FakeProxmox(["stopped", "stopped", "running"])
    ok, message = start(proxmox)
    assert (ok, message, [line for line in proxmox.commands if "pct status" in line]) == (
        True, "pct start 112: booted (running)", ["pct status 112"] * 3)


def test_boot_wait_comes_after_the_container_runs():
    proxmox = FakeProxmox(["stopped", "running"])
    start(proxmox)
    assert "systemctl is-system-running" in proxmox.commands[-1] and "pct status" in proxmox.commands[-2]


def test_start_that_never_comes_is_one_line_naming_host_and_vmid(monkeypatch):
    monkeypatch.setattr(actions, "RUNNING_TIMEOUT", 0)
    ok, message = start(FakeProxmox(["stopped"]))
    assert (ok, message) == (False, "vmid 112 on pve2: not running 0s after pct start (status: stopped; "
                                    "an HA-managed container is started by the HA stack: see ha-manager status)")


def test_start_that_never_comes_runs_no_boot_wait(monkeypatch):
    monkeypatch.setattr(actions, "RUNNING_TIMEOUT", 0)
    proxmox = FakeProxmox(["stopped"])
    start(proxmox)
    assert not any("is-system-running" in line for line in proxmox.commands)
