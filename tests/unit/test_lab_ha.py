"""HA-managed containers in the lab: resources.cfg sections, and a `pct start` that only queues
the start (Proxmox's message, exit 0) and leaves it to a delayed background start (fake lxc-*)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import containers
import ha
import pct_cli
from topology import Container

VMID = 112
WORKER_2 = Container(VMID, "k3s-worker-2", "k3s_workers", "lab2")
FAKE_LXC = {
    "lxc-info": '#!/bin/sh\ncat "$FAKE_LXC/$2" 2>/dev/null || echo STOPPED\n',
    "lxc-start": '#!/bin/sh\necho "lxc-start $*" >> "$FAKE_LXC/calls"\necho RUNNING > "$FAKE_LXC/$2"\n',
}


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Node lab2 holding stopped container 112 in a tmp /etc/pve, fake lxc-* first on PATH; the
    background start is recorded, not run."""
    bin_dir, state = tmp_path / "bin", tmp_path / "lxc-state"
    bin_dir.mkdir()
    state.mkdir()
    for name, script in FAKE_LXC.items():
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LXC", str(state))
    monkeypatch.setenv("LAB_PVE_NODE", "lab2")
    monkeypatch.delenv(ha.RPCENV, raising=False)
    monkeypatch.delenv("LAB_HA_START_DELAY", raising=False)
    monkeypatch.setattr(containers, "PVE_ROOT", tmp_path / "pve")
    monkeypatch.setattr(containers, "PVE_DIR", tmp_path / "pve" / "lxc")
    monkeypatch.setattr(containers, "LXC_DIR", tmp_path / "lxc")
    monkeypatch.setattr(pct_cli, "CALL_LOG", tmp_path / "pct-calls.log")
    monkeypatch.setattr(ha, "spawn_start", lambda vmid, delay: (state / "spawned").write_text(f"{vmid} {delay}\n"))
    containers.ensure_node_layout()
    containers.pve_conf_path(VMID).write_text(containers._pve_conf(WORKER_2, "overlay:/lower:/upper"))
    return state


def pct(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = pct_cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_mark_writes_a_section_config_resource(node):
    ha.mark_ha_managed(VMID)
    assert ha.resources_path().read_text() == "ct: 112\n\tstate started\n\n"


def test_resources_are_read_back_by_section(node):
    ha.resources_path().write_text("vm: 100\n\tstate stopped\n\nct: 112\n\tstate started\n\tmax_restart 1\n")
    assert ha.read_resources() == {"vm:100": {"state": "stopped"}, "ct:112": {"state": "started", "max_restart": "1"}}


def test_a_listed_container_is_ha_managed(node):
    ha.mark_ha_managed(VMID, state="stopped")
    assert ha.is_ha_managed(VMID)


def test_an_ignored_resource_is_not_ha_managed(node):
    ha.mark_ha_managed(VMID, state="ignored")
    assert not ha.is_ha_managed(VMID)


def test_unmark_removes_only_that_resource(node):
    ha.mark_ha_managed(VMID)
    ha.mark_ha_managed(111)
    ha.unmark_ha_managed(VMID)
    assert ha.read_resources() == {"ct:111": {"state": "started"}}


def test_start_of_an_ha_managed_container_prints_the_request_and_exits_0(node, capsys):
    ha.mark_ha_managed(VMID, state="stopped")
    assert pct(capsys, "start", str(VMID)) == (0, "Requesting HA start for CT 112\n", "")


def test_start_of_an_ha_managed_container_does_not_start_it_at_once(node, capsys):
    ha.mark_ha_managed(VMID, state="stopped")
    pct(capsys, "start", str(VMID))
    assert (containers.state(VMID), (node / "calls").exists()) == ("stopped", False)


def test_start_of_an_ha_managed_container_sets_its_state_started(node, capsys):
    ha.mark_ha_managed(VMID, state="stopped")
    pct(capsys, "start", str(VMID))
    assert ha.read_resources()["ct:112"]["state"] == "started"


def test_start_of_an_ha_managed_container_queues_one_start_after_a_crm_round(node, capsys):
    ha.mark_ha_managed(VMID, state="stopped")
    pct(capsys, "start", str(VMID))
    assert (node / "spawned").read_text() == "112 10\n"


def test_start_by_the_ha_stack_starts_the_container(node, capsys, monkeypatch):
    ha.mark_ha_managed(VMID)
    monkeypatch.setenv(ha.RPCENV, "ha")
    assert (pct(capsys, "start", str(VMID)), containers.state(VMID)) == ((0, "", ""), "running")


def test_start_by_the_ha_stack_is_not_a_logged_pct_call(node, capsys, monkeypatch):
    ha.mark_ha_managed(VMID)
    monkeypatch.setenv(ha.RPCENV, "ha")
    pct(capsys, "start", str(VMID))
    assert not pct_cli.CALL_LOG.exists()


def test_start_of_a_container_not_in_ha_starts_it(node, capsys):
    assert (pct(capsys, "start", str(VMID))[0], containers.state(VMID)) == (0, "running")


def test_start_of_a_running_ha_managed_container_fails_as_already_running(node, capsys):
    ha.mark_ha_managed(VMID)
    (node / str(VMID)).write_text("RUNNING\n")
    assert pct(capsys, "start", str(VMID)) == (255, "", "CT 112 already running\n")


def test_start_delay_is_bounded(monkeypatch):
    monkeypatch.setenv("LAB_HA_START_DELAY", "600")
    with pytest.raises(SystemExit, match="^lab: field LAB_HA_START_DELAY: must be 0 to 60 seconds, got '600'$"):
        ha.start_delay()


def test_background_start_runs_pct_start_as_the_ha_stack(tmp_path, monkeypatch):
    """The real spawn, with a recording script in place of lab/bin/pct and no delay."""
    record = tmp_path / "record"
    fake_pct = tmp_path / "pct"
    fake_pct.write_text(f'#!/bin/sh\necho "$* $LAB_PVE_RPCENV" > {record}.partial && mv {record}.partial {record}\n')
    fake_pct.chmod(0o755)
    monkeypatch.setattr(ha, "PCT", fake_pct)
    ha.spawn_start(VMID, 0)
    deadline = time.monotonic() + 10
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert record.read_text() == "start 112 ha\n"
