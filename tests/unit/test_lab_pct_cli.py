"""The lab's pct against a fake `lxc-*` whose "container" is this machine: exit codes and messages
of the real pct for push, pull and a vmid of another node (no LXC, no lab)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import containers
import pct_cli

VMID = 121
FAKE_LXC = {
    # The command after `--` runs here, so container paths are this machine's (tmp) paths.
    "lxc-attach": '#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done; shift; exec "$@"\n',
    "lxc-info": "#!/bin/sh\necho RUNNING\n",
}


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Node `lab` in a tmp /etc/pve holding container 121, with fake lxc-* first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in FAKE_LXC.items():
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.delenv("LAB_PVE_NODE", raising=False)
    monkeypatch.setattr(containers, "PVE_ROOT", tmp_path / "pve")
    monkeypatch.setattr(pct_cli, "CALL_LOG", tmp_path / "pct-calls.log")
    conf = containers.node_lxc_dir("lab") / f"{VMID}.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("hostname: haproxy\n")
    return tmp_path


def pct(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = pct_cli.main(list(args))
    return code, capsys.readouterr().err.strip()


def test_pull_of_a_missing_file_exits_0_with_the_reason_on_stderr(node, capsys):
    result = pct(capsys, "pull", str(VMID), str(node / "missing"), str(node / "copy"))
    assert result == (0, f"failed to open {node / 'missing'}: No such file or directory")


def test_failed_pull_leaves_an_empty_destination(node, capsys):
    pct(capsys, "pull", str(VMID), str(node / "missing"), str(node / "copy"))
    assert (node / "copy").read_bytes() == b""


def test_pull_copies_every_byte(node, capsys):
    payload = os.urandom(70_000) + bytes(range(256))
    (node / "source").write_bytes(payload)
    assert pct(capsys, "pull", str(VMID), str(node / "source"), str(node / "copy")) == (0, "")
    assert (node / "copy").read_bytes() == payload


def test_pull_applies_perms_to_the_destination(node, capsys):
    (node / "source").write_text("x")
    pct(capsys, "pull", str(VMID), str(node / "source"), str(node / "copy"), "--perms", "640")
    assert stat.S_IMODE((node / "copy").stat().st_mode) == 0o640


def test_push_to_an_unwritable_path_exits_0_with_the_reason_on_stderr(node, capsys):
    (node / "source").write_text("x")
    result = pct(capsys, "push", str(VMID), str(node / "source"), str(node / "no-dir" / "file"))
    assert result == (0, f"failed to create file: {node / 'no-dir' / 'file'}: No such file or directory")


def test_push_of_a_missing_source_exits_0_with_the_reason_on_stderr(node, capsys):
    result = pct(capsys, "push", str(VMID), str(node / "missing"), str(node / "copy"))
    assert result == (0, f"failed to open {node / 'missing'} for reading")


def test_push_copies_every_byte_with_perms(node, capsys):
    payload = os.urandom(70_000) + bytes(range(256))
    (node / "source").write_bytes(payload)
    assert pct(capsys, "push", str(VMID), str(node / "source"), str(node / "copy"), "--perms", "0600") == (0, "")
    assert ((node / "copy").read_bytes(), stat.S_IMODE((node / "copy").stat().st_mode)) == (payload, 0o600)


def test_vmid_of_another_node_is_a_missing_configuration(node, capsys):
    assert pct(capsys, "status", "105") == (255, "Configuration file 'nodes/lab/lxc/105.conf' does not exist")


def test_pct_of_another_node_does_not_see_this_nodes_container(node, capsys, monkeypatch):
    monkeypatch.setenv("LAB_PVE_NODE", "pve2")
    assert pct(capsys, "status", str(VMID)) == (255, f"Configuration file 'nodes/pve2/lxc/{VMID}.conf' does not exist")


def test_push_to_a_vmid_of_another_node_fails_before_the_task(node, capsys):
    (node / "source").write_text("x")
    result = pct(capsys, "push", "105", str(node / "source"), str(node / "copy"))
    assert result == (255, "can only push files to a running CT")


def test_pull_from_a_vmid_of_another_node_fails_before_the_task(node, capsys):
    result = pct(capsys, "pull", "105", str(node / "source"), str(node / "copy"))
    assert (result, (node / "copy").exists()) == ((255, "can only pull files from a running VM"), False)


def test_create_file_keeps_the_mode_of_an_existing_file(tmp_path):
    existing = tmp_path / "existing"
    existing.write_text("old content")
    existing.chmod(0o640)
    os.close(pct_cli.create_file(str(existing), None, None, None))
    assert (existing.read_text(), stat.S_IMODE(existing.stat().st_mode)) == ("", 0o640)


def test_create_file_with_an_unknown_owner_creates_nothing(tmp_path):
    with pytest.raises(pct_cli.TaskError, match="^failed to get uid for: no-such-user-here$"):
        pct_cli.create_file(str(tmp_path / "new"), None, "no-such-user-here", None)
    assert not (tmp_path / "new").exists()
