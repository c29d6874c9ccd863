"""The lab's two Proxmox nodes without LXC: each node's pct sees only its own confs, and a restart
migration moves a conf between node directories (fake `lxc-*` on PATH, a tmp /etc/pve)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import containers
import lab
import migration
import pct_cli
from node_pct import pct_on_node
from topology import LAB_NODE, PCT, SSH_NODE, Container, lab_containers

CONTROL = Container(101, "k3s-control", "k3s_control")
WORKER_2 = Container(112, "k3s-worker-2", "k3s_workers", SSH_NODE)
# Container state lives in $FAKE_LXC/<vmid>; every call is logged to $FAKE_LXC/calls.
FAKE_LXC = {
    "lxc-info": '#!/bin/sh\ncat "$FAKE_LXC/$2" 2>/dev/null || echo STOPPED\n',
    "lxc-start": '#!/bin/sh\necho "lxc-start $*" >> "$FAKE_LXC/calls"\necho RUNNING > "$FAKE_LXC/$2"\n',
    "lxc-stop": '#!/bin/sh\necho "lxc-stop $*" >> "$FAKE_LXC/calls"\n'
                '[ -e "$FAKE_LXC/$2.stuck" ] || echo STOPPED > "$FAKE_LXC/$2"\n',
}


@pytest.fixture
def fake_lxc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Nodes lab (101) and lab2 (112) in a tmp /etc/pve, both containers running under fake lxc-*."""
    bin_dir, state = tmp_path / "bin", tmp_path / "lxc-state"
    bin_dir.mkdir()
    state.mkdir()
    for name, script in FAKE_LXC.items():
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LXC", str(state))
    monkeypatch.delenv("LAB_PVE_NODE", raising=False)
    monkeypatch.setattr(containers, "PVE_ROOT", tmp_path / "pve")
    monkeypatch.setattr(containers, "PVE_DIR", tmp_path / "pve" / "lxc")
    monkeypatch.setattr(containers, "LXC_DIR", tmp_path / "lxc")
    monkeypatch.setattr(pct_cli, "CALL_LOG", tmp_path / "pct-calls.log")
    containers.ensure_node_layout()
    for ct in (CONTROL, WORKER_2):
        containers.pve_conf_path(ct.vmid, ct.node).write_text(containers._pve_conf(ct, f"overlay:/lower:/upper/{ct.vmid}"))
        (state / str(ct.vmid)).write_text("RUNNING\n")
    return state


def pct(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = pct_cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def listed_vmids(output: str) -> list[str]:
    return [line.split()[0] for line in output.splitlines()[1:]]


def calls(state: Path) -> list[str]:
    return (state / "calls").read_text().splitlines() if (state / "calls").exists() else []


def test_default_topology_puts_worker_2_alone_on_lab2():
    assert {ct.vmid: ct.node for ct in lab_containers()} == {101: LAB_NODE, 111: LAB_NODE, 112: SSH_NODE, 121: LAB_NODE}


def test_pct_list_on_lab_does_not_show_lab2s_container(fake_lxc, capsys):
    assert listed_vmids(pct(capsys, "list")[1]) == ["101"]


def test_pct_list_on_lab2_shows_only_its_container(fake_lxc, capsys, monkeypatch):
    monkeypatch.setenv("LAB_PVE_NODE", SSH_NODE)
    assert listed_vmids(pct(capsys, "list")[1]) == ["112"]


def test_pct_on_lab_has_no_conf_for_lab2s_container(fake_lxc, capsys):
    assert pct(capsys, "status", "112") == (255, "", "Configuration file 'nodes/lab/lxc/112.conf' does not exist")


def test_conf_node_finds_the_container_on_any_node(fake_lxc):
    assert (containers.conf_node(101), containers.conf_node(112), containers.conf_node(199)) == (LAB_NODE, SSH_NODE, None)


def test_layout_makes_every_nodes_directory_and_ha(fake_lxc):
    assert sorted(path.name for path in (containers.PVE_ROOT / "nodes").iterdir()) == [LAB_NODE, SSH_NODE]
    assert (containers.PVE_ROOT / "ha").is_dir()


def test_ensure_container_creates_the_conf_on_the_containers_node(fake_lxc, tmp_path, monkeypatch):
    monkeypatch.setattr(containers, "STATE_DIR", tmp_path / "state")
    monkeypatch.setattr(containers, "_seed", lambda upper, ct, all_containers: None)
    worker_4 = Container(114, "k3s-worker-4", "k3s_workers", SSH_NODE)
    assert containers.ensure_container(worker_4, Path("/lower"), [worker_4])
    assert containers.conf_node(114) == SSH_NODE


def test_ensure_container_moves_a_conf_found_on_another_node_back_to_its_node(fake_lxc, monkeypatch):
    migration.migrate(112, LAB_NODE)
    monkeypatch.setattr(containers, "upper_dir", lambda vmid: Path(f"/upper/{vmid}"))
    assert (containers.ensure_container(WORKER_2, Path("/lower"), [WORKER_2]), containers.conf_node(112)) == (False, SSH_NODE)


def test_ensure_container_leaves_a_moved_container_running(fake_lxc, monkeypatch):
    migration.migrate(112, LAB_NODE)
    monkeypatch.setattr(containers, "upper_dir", lambda vmid: Path(f"/upper/{vmid}"))
    containers.ensure_container(WORKER_2, Path("/lower"), [WORKER_2])
    assert (containers.state(112), calls(fake_lxc)[2:]) == ("running", [])


def test_migrate_moves_the_conf_to_the_target_node(fake_lxc, capsys):
    migration.migrate(112, LAB_NODE)
    assert (containers.conf_node(112), containers.pve_conf_path(112, SSH_NODE).exists()) == (LAB_NODE, False)


def test_migrate_shuts_down_without_kill_then_starts_on_the_target(fake_lxc):
    migration.migrate(112, LAB_NODE)
    assert calls(fake_lxc) == ["lxc-stop -n 112 -t 180 --nokill", "lxc-start -n 112"]
    assert containers.state(112) == "running"


def test_migrated_container_is_seen_by_the_targets_pct_only(fake_lxc, capsys, monkeypatch):
    migration.migrate(112, LAB_NODE)
    capsys.readouterr()
    on_lab = listed_vmids(pct(capsys, "list")[1])
    monkeypatch.setenv("LAB_PVE_NODE", SSH_NODE)
    assert (on_lab, pct(capsys, "list")[1]) == (["101", "112"], "")


def test_migrate_leaves_no_lock(fake_lxc):
    migration.migrate(112, LAB_NODE)
    assert "lock" not in dict(containers.read_pve_conf(112, LAB_NODE))


def test_migrate_prints_the_task_log(fake_lxc, capsys):
    migration.migrate(112, LAB_NODE)
    assert capsys.readouterr().out.splitlines() == [
        "shutdown CT 112", "starting migration of CT 112 to node 'lab'", "start final cleanup",
        "start container on target node", "migration finished successfully",
    ]


def test_migrate_of_a_stopped_container_does_not_start_it(fake_lxc):
    (fake_lxc / "112").write_text("STOPPED\n")
    migration.migrate(112, LAB_NODE)
    assert (containers.conf_node(112), calls(fake_lxc)) == (LAB_NODE, [])


def test_migrate_to_the_containers_own_node_is_refused(fake_lxc):
    with pytest.raises(migration.MigrationError, match="target: target is local node.$"):
        migration.migrate(112, SSH_NODE)


def test_migrate_to_an_unknown_node_is_refused(fake_lxc):
    with pytest.raises(migration.MigrationError, match="^no such cluster node 'pve9'$"):
        migration.migrate(112, "pve9")


def test_migrate_of_a_locked_container_is_refused(fake_lxc):
    path = containers.pve_conf_path(112, SSH_NODE)
    path.write_text("lock: backup\n" + path.read_text())
    with pytest.raises(migration.MigrationError, match=r"^CT is locked \(backup\)$"):
        migration.migrate(112, LAB_NODE)


def test_container_that_does_not_stop_stays_running_on_its_node(fake_lxc):
    (fake_lxc / "112.stuck").touch()
    with pytest.raises(migration.MigrationError, match="^container did not stop$"):
        migration.migrate(112, LAB_NODE)
    assert (containers.conf_node(112), containers.state(112)) == (SSH_NODE, "running")


def test_lab_migrate_command_fails_in_one_line(fake_lxc, capsys):
    assert lab.main(["migrate", "112", "pve9"]) == 255
    assert capsys.readouterr().err == "lab: migrate 112 pve9: no such cluster node 'pve9'\n"


def test_pct_list_shows_the_lock_of_a_conf(fake_lxc, capsys):
    path = containers.pve_conf_path(101, LAB_NODE)
    path.write_text("lock: migrate\n" + path.read_text())
    assert pct(capsys, "list")[1].splitlines()[1].split() == ["101", "running", "migrate", "k3s-control"]


def test_pct_start_of_a_locked_container_fails_like_pct(fake_lxc, capsys):
    (fake_lxc / "101").write_text("STOPPED\n")
    path = containers.pve_conf_path(101, LAB_NODE)
    path.write_text("lock: migrate\n" + path.read_text())
    assert pct(capsys, "start", "101") == (255, "", "CT is locked (migrate)")


def test_pct_on_node_runs_lab2s_pct_for_lab2s_container(fake_lxc):
    assert pct_on_node("reboot", "112") == ["env", f"LAB_PVE_NODE={SSH_NODE}", str(PCT), "reboot", "112"]


def test_pct_on_node_follows_a_migrated_container(fake_lxc):
    migration.migrate(112, LAB_NODE)
    assert pct_on_node("exec", "112", "--", "true")[1] == f"LAB_PVE_NODE={LAB_NODE}"


def test_pct_on_node_without_a_vmid_or_with_an_unknown_one_is_node_labs(fake_lxc):
    assert (pct_on_node("list")[1], pct_on_node("status", "987")[1]) == (f"LAB_PVE_NODE={LAB_NODE}",) * 2


def test_pct_on_node_sees_the_container(fake_lxc, capsys, monkeypatch):
    _, env_word, _, *args = pct_on_node("status", "112")
    monkeypatch.setenv(*env_word.split("=", 1))
    assert pct(capsys, *args) == (0, "status: running\n", "")
