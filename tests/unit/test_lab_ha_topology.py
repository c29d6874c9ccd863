"""LAB_TOPOLOGY=ha: three control containers spread over the lab's two Proxmox nodes, the workers and
HAProxy as in the default lab, in inventories of their own that the product's loader accepts as an
HA cluster; the default topology is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

import inventories
from inventory_schema import load_inventory
from topology import LAB_NODE, SSH_NODE, inventory_name, lab_containers


@pytest.fixture
def ha(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_TOPOLOGY", "ha")


def test_ha_has_three_control_containers_on_both_nodes(ha) -> None:
    controls = [(ct.vmid, ct.name, ct.node) for ct in lab_containers() if ct.group == "k3s_control"]
    assert controls == [(101, "k3s-control", LAB_NODE), (102, "k3s-control-2", SSH_NODE),
                        (103, "k3s-control-3", LAB_NODE)]


def test_ha_keeps_the_workers_and_haproxy(ha) -> None:
    assert [ct.vmid for ct in lab_containers() if ct.group != "k3s_control"] == [111, 112, 121]


def test_the_default_topology_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_TOPOLOGY", raising=False)
    assert ([ct.vmid for ct in lab_containers()], inventory_name("ssh")) == ([101, 111, 112, 121], "inventory-ssh.yml")


def test_ha_inventories_have_their_own_names(ha) -> None:
    assert (inventory_name("ssh"), inventory_name("pct")) == ("inventory-ha-ssh.yml", "inventory-ha-pct.yml")


def test_an_unknown_topology_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_TOPOLOGY", "triple")
    with pytest.raises(SystemExit, match="lab: field LAB_TOPOLOGY: must be one of default, ha"):
        lab_containers()


@pytest.mark.parametrize("reach", ["ssh", "pct"])
def test_ha_inventories_load_as_an_ha_cluster_registering_through_haproxy(
        ha, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reach: str) -> None:
    monkeypatch.setattr(inventories, "LAB_DIR", tmp_path)
    monkeypatch.setattr(inventories, "SECRETS", tmp_path / "secrets.yml")
    binary = tmp_path / "k3s"
    binary.write_bytes(b"#!/bin/sh\n")
    inventories.write_inventories(lab_containers(), binary)
    loaded = load_inventory(tmp_path / f"inventory-ha-{reach}.yml")
    assert [member.name for member in loaded.group("k3s_control")] == ["k3s-control", "k3s-control-2", "k3s-control-3"]
    assert {member.data["k3s_server_url"] for member in loaded.hosts if "k3s_server_url" in member.data} == \
        {"https://10.213.0.121:6443"}
