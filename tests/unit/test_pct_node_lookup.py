"""pct sees only its node's containers: after a migration the connector finds the container's node
in the cluster-wide /etc/pve/nodes/*/lxc and reaches it with the inventory's data, or fails naming both."""

from __future__ import annotations

import logging

import pytest
from pyinfra.api import Config
from pyinfra.api.exceptions import ConnectError

from connectors.proxmox_node import conf_nodes, missing_config_node, node_reach, relocation
from pct_fixtures import node_words, pct_hosts, record_node

STALE = ("@pct/pve1/101", {"pct_command": "pct"})
ON_PVE2 = ("@pct/pve2/102", {"pct_command": "/opt/pve2/pct"})
MISSING = "Configuration file 'nodes/pve1/lxc/101.conf' does not exist"


def cluster(conf_lines: str):
    """Replies of a cluster where 101's conf is at ``conf_lines`` and pve1's pct cannot see it."""
    def reply(command: str) -> tuple[int, str, str]:
        if "pct status 101" in command and "/opt/pve2/pct" not in command:
            return 255, "", f"{MISSING}\n"
        if "ls -d" in command:
            return (0, conf_lines, "") if conf_lines else (2, "", "ls: cannot access '/etc/pve/nodes/*/lxc/101.conf'\n")
        return 0, "status: running\n", ""
    return reply


def test_missing_config_message_names_the_node_pct_ran_on():
    assert missing_config_node(MISSING) == "pve1"


def test_other_messages_name_no_node():
    assert missing_config_node("can only push files to a running CT") is None


def test_conf_paths_give_their_nodes():
    assert conf_nodes(["/etc/pve/nodes/pve2/lxc/101.conf", "ls: cannot access"]) == ["pve2"]


def test_node_data_comes_from_a_pct_host_on_that_node():
    hosts = [([], {"pct_node": "pve1", "pct_vmid": 101}),
             ([], {"pct_node": "pve2", "pct_vmid": 102, "pct_ssh_hostname": "10.0.0.3", "pct_ssh_user": "admin",
                   "k3s_role": "agent"})]
    assert node_reach(hosts)["pve2"] == {"pct_node": "pve2", "pct_ssh_hostname": "10.0.0.3", "pct_ssh_user": "admin"}


def test_no_node_data_without_a_host_on_that_node():
    assert "pve2" not in node_reach([([], {"pct_node": "pve1"})])


def test_another_message_is_no_relocation():
    assert relocation("can only push files to a running CT", lambda: "pve2", {}) is None


def test_conf_on_the_node_pct_ran_on_is_no_relocation():
    assert relocation(MISSING, lambda: "pve1", {}) is None


def test_container_on_a_node_the_inventory_does_not_reach_fails_naming_both(monkeypatch):
    record_node(monkeypatch, cluster("/etc/pve/nodes/pve2/lxc/101.conf\n"))
    [host] = pct_hosts(STALE)
    with pytest.raises(ConnectError) as error:
        host.connector.connect()
    assert str(error.value) == ("host @pct/pve1/101 (vmid 101 on node pve1): container is on node pve2, not on node pve1: "
                                "set pct_node and pct_ssh_* to pve2's")


def test_container_on_no_node_fails_with_pcts_message(monkeypatch):
    record_node(monkeypatch, cluster(""))
    [host] = pct_hosts(STALE)
    with pytest.raises(ConnectError) as error:
        host.connector.connect()
    assert str(error.value) == f"host @pct/pve1/101 (vmid 101 on node pve1): {MISSING}"


def test_container_on_a_node_the_inventory_reaches_is_reached_there(monkeypatch):
    commands = record_node(monkeypatch, cluster("/etc/pve/nodes/pve2/lxc/101.conf\n"))
    host, _ = pct_hosts(STALE, ON_PVE2)
    host.connector.connect()
    assert (node_words(commands[-1]), host.connector.node.name) == (["/opt/pve2/pct", "status", "101"], "pve2")


def test_reaching_another_node_warns_that_the_inventory_is_stale(monkeypatch, caplog):
    record_node(monkeypatch, cluster("/etc/pve/nodes/pve2/lxc/101.conf\n"))
    host, _ = pct_hosts(STALE, ON_PVE2)
    with caplog.at_level(logging.WARNING):
        host.connector.connect()
    assert "container is on node pve2, not on node pve1" in caplog.text


def test_lookup_runs_with_the_privilege_pct_gets(monkeypatch):
    commands = record_node(monkeypatch, cluster("/etc/pve/nodes/pve2/lxc/101.conf\n"))
    host, _ = pct_hosts(STALE, ON_PVE2, config=Config(SUDO=True))
    host.connector.connect()
    assert node_words(commands[1]) == ["sudo", "-H", "-n", "ls", "-d", "/etc/pve/nodes/*/lxc/101.conf"]


def test_container_on_a_node_only_proxmox_hosts_lists_is_reached_there(monkeypatch):
    commands = record_node(monkeypatch, cluster("/etc/pve/nodes/pve2/lxc/101.conf\n"))
    host, _ = pct_hosts(STALE, ("@local", {"node_name": "pve2", "pct_command": "/opt/pve2/pct"}))
    host.inventory.get_host("@local").groups.append("proxmox_hosts")
    host.connector.connect()
    assert (node_words(commands[-1]), host.connector.node.name) == (["/opt/pve2/pct", "status", "101"], "pve2")
