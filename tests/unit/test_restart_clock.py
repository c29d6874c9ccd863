"""Restart moments and Ready waits use the control node's clock, never this machine's: a deploy
machine an hour ahead (or behind) neither passes on an old heartbeat nor waits for a future one."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

from tasks import k3s_ready
from tasks.node_back import NodeRestart

CONTROL_NOW = 1_000_000_000.25  # the control node's clock: 2001-09-09T01:46:40.25Z


class FakeControl:
    """A control host whose clock and API answers are scripted (pure logic: no host is reached)."""

    print_prefix = "[control] "

    def __init__(self, heartbeat: str, renewed: str) -> None:
        self.heartbeat, self.renewed = heartbeat, renewed

    def run_shell_command(self, command, _timeout=None):
        text = str(command)
        if text.startswith("date"):
            return True, SimpleNamespace(stdout=f"{CONTROL_NOW}\n", stdout_lines=[str(CONTROL_NOW)])
        probe = {"node": {"status": {"conditions": [{"type": "Ready", "status": "True",
                                                     "lastHeartbeatTime": self.heartbeat}]}},
                 "lease": {"spec": {"renewTime": self.renewed}}, "pods": {"items": []}}
        return True, SimpleNamespace(stdout=json.dumps(probe), stdout_lines=[json.dumps(probe)])


def test_restart_moment_is_the_control_nodes_clock(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: CONTROL_NOW + 3600)  # this machine is an hour ahead
    k3s_ready.RESTARTED_AT.clear()
    state = SimpleNamespace(inventory=SimpleNamespace(get_group=lambda name: [FakeControl("", "")]))
    k3s_ready.note_restart(state, SimpleNamespace(data=SimpleNamespace(node_name="w1")))
    assert k3s_ready.RESTARTED_AT == {"w1": CONTROL_NOW}


def test_heartbeat_after_the_control_clock_restart_moment_is_back_whatever_this_machine_says(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: CONTROL_NOW + 3600)
    control = FakeControl("2001-09-09T01:46:43Z", "2001-09-09T01:46:42.5Z")
    assert k3s_ready.wait_until_back(control, NodeRestart("w1", CONTROL_NOW), timeout=1, interval=0) is True


def test_heartbeat_from_before_the_restart_is_not_back_even_with_this_machine_an_hour_behind(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: CONTROL_NOW - 3600)
    control = FakeControl("2001-09-09T01:46:39Z", "2001-09-09T01:46:42.5Z")
    assert k3s_ready.wait_until_back(control, NodeRestart("w1", CONTROL_NOW), timeout=0.2, interval=0) is False
