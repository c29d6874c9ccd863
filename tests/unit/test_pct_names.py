"""Pure logic of the pct connector: inventory names, pct output and node data."""

import pytest
from pyinfra.api.exceptions import InventoryError

from connectors.pct import PctConnector, parse_pct_name, pct_status
from connectors.proxmox_node import node_is_local, node_ssh_data


def test_name_splits_into_node_and_vmid():
    assert parse_pct_name("pve1/101") == ("pve1", 101)


@pytest.mark.parametrize("name", [None, "", "pve1", "pve1/", "/101", "pve1/abc", "pve1/101/x", "a b/101"])
def test_malformed_name_is_an_inventory_error(name):
    with pytest.raises(InventoryError, match=r"name must be @pct/<node>/<vmid>"):
        parse_pct_name(name)


def test_names_data_carries_node_and_vmid():
    assert list(PctConnector.make_names_data("local/121")) == [
        ("@pct/local/121", {"pct_node": "local", "pct_vmid": 121}, ["@pct"])
    ]


@pytest.mark.parametrize(
    ("output", "state"),
    [("status: running\n", "running"), ("status: stopped", "stopped"), ("weird", "weird")],
)
def test_status_word_is_read_from_pct_status(output, state):
    assert pct_status(output) == state


def test_node_ssh_data_maps_pct_ssh_keys_onto_ssh_keys():
    data = {"pct_ssh_hostname": "10.0.0.2", "pct_ssh_user": "root", "pct_vmid": 101, "ssh_user": "other"}
    assert node_ssh_data(data) == {"ssh_hostname": "10.0.0.2", "ssh_user": "root"}


@pytest.mark.parametrize(
    ("data", "local"),
    [({"pct_node": "lab"}, True), ({"pct_node": "pve1", "pct_ssh_hostname": "10.0.0.2"}, False)],
)
def test_node_is_local_exactly_without_an_ssh_address(data, local):
    assert node_is_local(data) is local
