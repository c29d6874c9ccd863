"""The lab lays out container confs as pmxcfs does: /etc/pve/nodes/<node>/lxc, /etc/pve/lxc a link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import containers


@pytest.fixture
def pve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "pve"
    root.mkdir()
    monkeypatch.setattr(containers, "PVE_ROOT", root)
    monkeypatch.setattr(containers, "PVE_DIR", root / "lxc")
    monkeypatch.delenv("LAB_PVE_NODE", raising=False)
    return root


def test_lxc_is_a_relative_link_to_this_nodes_directory(pve):
    containers.ensure_node_layout()
    assert os.readlink(pve / "lxc") == "nodes/lab/lxc"


def test_confs_of_an_older_lab_move_into_the_nodes_directory(pve):
    (pve / "lxc").mkdir()
    (pve / "lxc" / "101.conf").write_text("hostname: k3s-control\n")
    containers.ensure_node_layout()
    assert (pve / "lxc" / "101.conf").read_text() == "hostname: k3s-control\n"
    assert (pve / "nodes" / "lab" / "lxc" / "101.conf").exists()


def test_layout_is_idempotent(pve):
    containers.ensure_node_layout()
    (pve / "lxc" / "111.conf").write_text("hostname: k3s-worker-1\n")
    containers.ensure_node_layout()
    assert sorted(path.name for path in (pve / "nodes" / "lab" / "lxc").iterdir()) == ["111.conf"]


def test_conf_path_is_in_the_directory_of_the_node_pct_plays(pve, monkeypatch):
    monkeypatch.setenv("LAB_PVE_NODE", "pve2")
    assert containers.pve_conf_path(101) == pve / "nodes" / "pve2" / "lxc" / "101.conf"
