"""Repair finds a migrated container in the pct list of the Proxmox host it is on now (pct lists only
its own node's containers), not only on the node the inventory names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_inventory, ctx_state

from facts.pct import PctContainer
from tasks.repair.access import listed_status, resolve

WORKER = "k3s-worker-2"


def row(vmid: int, status: str, name: str) -> PctContainer:
    return PctContainer(vmid=vmid, status=status, lock="", name=name)


@pytest.fixture
def two_nodes() -> Iterator[Inventory]:
    """112 k3s-worker-2 on pve2 in the inventory; pve1 and pve2 are its Proxmox hosts."""
    pyinfra_inventory = Inventory(
        ([("k3s-worker-2", {"node_name": WORKER, "pct_node": "pve2", "pct_vmid": 112}),
          ("pve1", {"node_name": "pve1"}), ("pve2", {"node_name": "pve2"})], {}),
        k3s_workers=(["k3s-worker-2"], {}), proxmox_hosts=(["pve1", "pve2"], {}),
    )
    with ctx_state.use(State(pyinfra_inventory, Config())), ctx_inventory.use(pyinfra_inventory):
        yield pyinfra_inventory


def test_migrated_container_is_reached_on_the_host_that_lists_it(two_nodes):
    pve1, pve2 = two_nodes.get_host("pve1"), two_nodes.get_host("pve2")
    access = resolve(WORKER, {pve1: {WORKER: row(112, "stopped", WORKER)}, pve2: {}})
    assert (access.proxmox, access.vmid, listed_status(access, {pve1: {WORKER: row(112, "stopped", WORKER)}})) == (
        pve1, 112, "stopped")


def test_container_listed_on_its_inventory_node_stays_there(two_nodes):
    pve1, pve2 = two_nodes.get_host("pve1"), two_nodes.get_host("pve2")
    lists = {pve1: {"other": row(112, "running", "other")}, pve2: {WORKER: row(112, "stopped", WORKER)}}
    access = resolve(WORKER, lists)
    assert (access.proxmox, listed_status(access, lists)) == (pve2, "stopped")


def test_container_listed_nowhere_keeps_its_inventory_node_and_no_status(two_nodes):
    pve1, pve2 = two_nodes.get_host("pve1"), two_nodes.get_host("pve2")
    access = resolve(WORKER, {pve1: {}, pve2: {}})
    assert (access.proxmox, listed_status(access, {pve1: {}, pve2: {}})) == (pve2, "")
