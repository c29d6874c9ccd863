"""The testinfra backend follows a migrated container as the pyinfra connector does: on pct's "conf does
not exist" it finds the container's node in /etc/pve/nodes/*/lxc and reaches it with the inventory's
data for that node, or fails with one line naming both nodes."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import testinfra.backend
import testinfra.host
import yaml

from connectors.pct_testinfra import PctBackend, node_options, proxmox_nodes_option
from connectors.proxmox_node import node_reach
from verify.targets import cluster_from_hostspecs, cluster_from_inventory

MISSING = "Configuration file 'nodes/pve2/lxc/112.conf' does not exist"
PVE1 = {"pct_node": "pve1", "pct_command": "/opt/pve1/pct"}
PVE2 = {"pct_node": "pve2", "pct_command": "pct", "pct_ssh_hostname": "10.0.0.3", "pct_ssh_port": 2222}
Reply = Callable[[str], tuple[int, str, str]]


def on_pve1(command: str) -> tuple[int, str, str]:
    """112 migrated from pve2 to pve1: pve2's pct cannot see it, pve1's runs the command."""
    if command.startswith("ssh ") and "pct exec 112" in command:
        return 255, "", f"{MISSING}\n"
    if "ls -d" in command:
        return 0, "/etc/pve/nodes/pve1/lxc/112.conf\n", ""
    return 0, "k3s-worker-2\n", ""


def backend(monkeypatch: pytest.MonkeyPatch, reply: Reply, nodes: dict[str, dict[str, Any]]) -> tuple[PctBackend, list[str]]:
    """A backend for 112 on pve2 (over SSH) whose node commands are recorded and answered by ``reply``."""
    commands: list[str] = []

    def run_local(self: PctBackend, command: str, *args: str):
        line = self.quote(command, *args)
        commands.append(line)
        code, stdout, stderr = reply(line)
        return self.result(code, self.encode(line), stdout.encode(), stderr.encode())

    monkeypatch.setattr(PctBackend, "run_local", run_local)
    monkeypatch.setitem(testinfra.backend.BACKENDS, "pct", "connectors.pct_testinfra.PctBackend")
    node, options = node_options(PVE2)
    made = testinfra.backend.get_backend(f"pct://112@{node}", proxmox_nodes=proxmox_nodes_option(nodes), **options)
    assert isinstance(made, PctBackend)
    return made, commands


def test_migrated_container_is_reached_on_its_current_node(monkeypatch):
    host, commands = backend(monkeypatch, on_pve1, {"pve1": PVE1, "pve2": PVE2})
    with pytest.warns(UserWarning, match="container is on node pve1, not on node pve2"):
        result = host.run("hostname")
    assert (result.stdout, shlex.split(commands[-1])[:3]) == ("k3s-worker-2\n", ["/opt/pve1/pct", "exec", "112"])


def test_conf_is_looked_up_on_the_node_pct_ran_on(monkeypatch):
    host, commands = backend(monkeypatch, on_pve1, {"pve1": PVE1, "pve2": PVE2})
    with pytest.warns(UserWarning):
        host.run("hostname")
    assert shlex.split(commands[1])[-1] == "ls -d /etc/pve/nodes/*/lxc/112.conf"


def test_later_commands_go_straight_to_the_current_node(monkeypatch):
    host, commands = backend(monkeypatch, on_pve1, {"pve1": PVE1, "pve2": PVE2})
    with pytest.warns(UserWarning):
        host.run("hostname")
    host.run("true")
    assert len(commands) == 4


def test_container_on_a_node_no_inventory_host_reaches_fails_naming_both(monkeypatch):
    host, _ = backend(monkeypatch, on_pve1, {"pve2": PVE2})
    with pytest.raises(RuntimeError) as error:
        host.run("hostname")
    assert str(error.value) == ("pct://112@pve2 (vmid 112 on node pve2): container is on node pve1, not on node pve2: "
                                "list node pve1 in the inventory's proxmox_hosts or name it in the host spec")


def test_a_failing_check_looks_up_no_node(monkeypatch):
    host, commands = backend(monkeypatch, lambda command: (1, "", "grep: /etc/x: No such file or directory\n"),
                             {"pve1": PVE1, "pve2": PVE2})
    assert (host.run("grep x /etc/x").rc, len(commands)) == (1, 1)


def test_node_reach_prefers_a_pct_hosts_data_and_falls_back_to_proxmox_hosts():
    hosts = [(["k3s_workers"], {"pct_node": "pve2", "pct_vmid": 112, "pct_ssh_hostname": "10.0.0.3", "node_name": "w2"}),
             (["proxmox_hosts"], {"node_name": "pve2", "pct_command": "pct", "ssh_hostname": "pve2.example.net"}),
             (["proxmox_hosts"], {"node_name": "pve3", "pct_command": "pct", "ssh_hostname": "10.0.0.4", "ssh_port": 22})]
    assert node_reach(hosts) == {
        "pve2": {"pct_node": "pve2", "pct_ssh_hostname": "10.0.0.3"},
        "pve3": {"pct_node": "pve3", "pct_command": "pct", "pct_ssh_hostname": "10.0.0.4", "pct_ssh_port": 22},
    }


def two_node_inventory(tmp_path: Path) -> str:
    """pve1 local with 101, pve2 over SSH with 112, pve3 over SSH with no container of the inventory."""
    path = tmp_path / "cluster.yml"
    path.write_text(yaml.safe_dump({
        "proxmox_hosts": [{"name": "pve1", "local": True, "pct_command": "/opt/pve1/pct"},
                          {"name": "pve2", "ssh": {"host": "10.0.0.3", "port": 2222}},
                          {"name": "pve3", "ssh": {"host": "10.0.0.4"}}],
        "k3s_control": [{"name": "k3s-control", "pct": {"node": "pve1", "vmid": 101}, "node_ip": "10.0.1.101"}],
        "k3s_workers": [{"name": "k3s-worker-2", "pct": {"node": "pve2", "vmid": 112}, "node_ip": "10.0.1.112"}],
    }))
    return str(path)


def test_verify_targets_carry_every_proxmox_nodes_reach(tmp_path):
    worker = cluster_from_inventory(two_node_inventory(tmp_path)).targets[1]
    nodes = dict(dict(worker.backend_options)["proxmox_nodes"])
    assert (worker.spec, sorted(nodes), dict(nodes["pve3"])["pct_ssh_hostname"]) == (
        "pct://112@pve2", ["pve1", "pve2", "pve3"], "10.0.0.4")


def test_verify_target_on_the_local_node_runs_pct_here(tmp_path):
    control = cluster_from_inventory(two_node_inventory(tmp_path)).targets[0]
    assert (control.spec, dict(control.backend_options)["pct_command"]) == ("pct://101@local", "/opt/pve1/pct")


def test_host_spec_that_does_not_answer_is_one_line(monkeypatch):
    monkeypatch.setitem(testinfra.backend.BACKENDS, "pct", "connectors.pct_testinfra.PctBackend")
    monkeypatch.setattr(testinfra.host.Host, "_host_cache", {})
    monkeypatch.setattr(PctBackend, "run_local", lambda self, command, *args: self.result(
        255, b"", b"", b"ssh: connect to host pve2 port 22: Connection refused\n"))
    with pytest.raises(RuntimeError) as error:
        cluster_from_hostspecs(["pct://112@pve2"], None)
    assert str(error.value) == ("verify: host pct://112@pve2: cannot connect "
                                "(ssh: connect to host pve2 port 22: Connection refused)")
