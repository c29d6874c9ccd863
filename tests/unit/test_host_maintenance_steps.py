"""Host maintenance's steps on one container, against hosts that record what they are asked: the record
first, then `kubectl drain`, HAProxy's drain, `pct shutdown --timeout`; a failed drain stops the run
in one line with the lock released and the container left running; after the reboot a container
already running is not started again, is uncordoned (unless an operator had cordoned it) and taken off
the record."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from pyinfra.connectors.util import CommandOutput, OutputLine

import tasks.host_maintenance as maintenance
from facts.cluster_nodes import CORDONED_BY
from tasks.host_maintenance_rules import Guest, recorded
from tasks.repair.access import NodeAccess

WORKER_2 = Guest("k3s-worker-2", 112, "agent")


class FakeHost:
    """A connected host answering each command by the first ``answers`` key found in it (else
    success, no output), and recording every command; ``record`` is the ConfigMap's JSON."""

    def __init__(self, name: str, answers: dict[str, tuple[bool, str]] | None = None) -> None:
        self.name = name
        self.print_prefix = f"[{name}] "
        self.data = {"node_name": name, "pct_command": "pct"}
        self.connected = True
        self.answers = answers or {}
        self.commands: list[str] = []
        self.record = ""
        self.node: dict = {"spec": {}, "metadata": {}}

    def run_shell_command(self, command: Any, **_: Any) -> tuple[bool, CommandOutput]:
        line = str(command.get_raw_value())
        self.commands.append(line)
        if " get node " in line:
            return True, CommandOutput([OutputLine("stdout", json.dumps(self.node))])
        if "get configmap" in line and "-o json" in line:
            return True, CommandOutput([OutputLine("stdout", self.record)] if self.record else [])
        if "patch configmap" in line:
            patch = json.loads(line.rsplit(" -p ", 1)[1].strip("'"))
            self.record = json.dumps({"data": {key: value for key, value in patch["data"].items() if value}})
        for key, (ok, text) in self.answers.items():
            if key in line:
                return ok, CommandOutput([OutputLine("stdout" if ok else "stderr", text)])
        return True, CommandOutput([])


@pytest.fixture
def hosts(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The runner (a server), the Proxmox host lab2, and what the module reaches outside them."""
    runner, proxmox = FakeHost("k3s-control"), FakeHost("lab2", {"pct status": (True, "status: stopped")})
    haproxy: list[str] = []
    released: list[bool] = []
    monkeypatch.setattr(maintenance, "survey", lambda: maintenance.Survey("lab2", proxmox, [WORKER_2], {}, [], runner))
    monkeypatch.setattr(maintenance, "access_of", lambda guest: NodeAccess(guest.node, None, proxmox, guest.vmid))
    monkeypatch.setattr(maintenance, "still_held", lambda: True)
    monkeypatch.setattr(maintenance, "drained", lambda node: haproxy.append(f"drain {node}"))
    monkeypatch.setattr(maintenance, "release_for_run", lambda state, host: released.append(True))
    monkeypatch.setattr(maintenance, "POLL_SECONDS", 0)
    monkeypatch.setattr(maintenance, "SHUT_DOWN", [])
    return {"runner": runner, "proxmox": proxmox, "haproxy": haproxy, "released": released}


def test_the_record_comes_first_then_drain_then_the_clean_shutdown(hosts):
    assert maintenance.shut_down(None, hosts["runner"], WORKER_2, 300, 120)
    runner_steps = [line for line in hosts["runner"].commands if "patch configmap" in line or "drain" in line]
    assert ["patch" in runner_steps[0], runner_steps[1]] == [
        True, "k3s kubectl drain k3s-worker-2 --ignore-daemonsets --delete-emptydir-data --timeout=300s"]
    assert (hosts["haproxy"], hosts["proxmox"].commands[0]) == (["drain k3s-worker-2"], "pct shutdown 112 --timeout 120")


def test_the_record_lists_the_container_shut_down(hosts):
    maintenance.shut_down(None, hosts["runner"], WORKER_2, 300, 120)
    assert recorded(hosts["runner"].record, "lab2") == [WORKER_2]


def test_a_failed_drain_stops_in_one_line_and_leaves_the_container_running(hosts, caplog):
    hosts["runner"].answers = {"kubectl drain": (False, "error: timed out waiting for the condition")}
    assert not maintenance.shut_down(None, hosts["runner"], WORKER_2, 300, 120)
    assert (hosts["proxmox"].commands, hosts["released"]) == ([], [True])
    assert ("host maintenance of node lab2 stopped at k3s-worker-2 (drain: error: timed out waiting for the condition); "
            "nothing else touched; shut down so far: none") in caplog.text


def test_a_shutdown_that_times_out_stops_the_run(hosts, caplog):
    hosts["proxmox"].answers = {"pct shutdown": (False, "CT 112 shutdown timed out")}
    assert not maintenance.shut_down(None, hosts["runner"], WORKER_2, 300, 120)
    assert "(pct shutdown: CT 112 shutdown timed out)" in caplog.text


def test_a_schedulable_node_is_marked_as_the_maintenances_cordon_before_the_drain(hosts):
    maintenance.shut_down(None, hosts["runner"], WORKER_2, 300, 120)
    marked = [line for line in hosts["runner"].commands if "annotate" in line]
    assert marked == [f"k3s kubectl annotate --overwrite node k3s-worker-2 {CORDONED_BY}=host-maintenance"]


@pytest.fixture
def rebooted(hosts, monkeypatch) -> list[float]:
    """The node's container running again after the reboot, on the record; the back times."""
    hosts["proxmox"].answers = {"pct status": (True, "status: running")}
    hosts["runner"].record = json.dumps({"data": {"lab2": json.dumps([vars(WORKER_2)])}})
    back: list[float] = []
    monkeypatch.setattr(maintenance, "wait_until_back", lambda control, restart, timeout: back.append(restart.issued) or True)
    monkeypatch.setattr(maintenance, "probe", lambda control, node: {"pods": None})
    monkeypatch.setattr(maintenance, "critical_servers", lambda: {})
    monkeypatch.setattr(maintenance, "set_server_state", lambda node, change: None)
    monkeypatch.setattr(maintenance, "servers", lambda: [hosts["runner"]])
    return back


def run(hosts) -> SimpleNamespace:
    """The pyinfra state brought_back reads: which hosts are connected."""
    return SimpleNamespace(active_hosts={hosts["runner"]})


def test_after_the_reboot_a_running_container_is_uncordoned_and_taken_off_the_record(hosts, rebooted):
    hosts["runner"].node = {"spec": {"unschedulable": True}, "metadata": {"annotations": {CORDONED_BY: "host-maintenance"}}}
    assert maintenance.brought_back(run(hosts), hosts["runner"], 300)
    assert not any("pct start" in line for line in hosts["proxmox"].commands)
    uncordoned = f"k3s kubectl uncordon k3s-worker-2 && k3s kubectl annotate node k3s-worker-2 {CORDONED_BY}-"
    assert (rebooted, uncordoned in hosts["runner"].commands) == ([0.0], True)
    assert recorded(hosts["runner"].record, "lab2") == []


def test_a_node_an_operator_had_cordoned_stays_cordoned_with_a_warning(hosts, rebooted, caplog):
    hosts["runner"].node = {"spec": {"unschedulable": True}, "metadata": {}}
    assert maintenance.brought_back(run(hosts), hosts["runner"], 300)
    assert not any("uncordon" in line for line in hosts["runner"].commands)
    assert "k3s-worker-2 left cordoned: it was cordoned before the host-maintenance (not by this tool)" in caplog.text
    assert recorded(hosts["runner"].record, "lab2") == []


def test_once_all_are_back_each_servers_watcher_runs_before_verify_judges_its_last_run(hosts, rebooted):
    """Its last timer run may have seen the maintained node down; verify would fail on that run."""
    assert maintenance.brought_back(run(hosts), hosts["runner"], 300)
    assert hosts["runner"].commands[-1] == "systemctl start k3s-node-watcher.service || true"
