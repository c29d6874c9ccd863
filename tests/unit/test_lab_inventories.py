"""The lab's inventories name both Proxmox nodes: lab is this machine, lab2 is reached over SSH on
loopback; each pct host names its own node. Written into a tmp directory and read back with the
product's own inventory loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import inventories
import ssh_keys
from inventory_schema import load_inventory
from topology import PCT, lab_containers


@pytest.fixture
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(inventories, "LAB_DIR", tmp_path)
    monkeypatch.setattr(inventories, "SECRETS", tmp_path / "secrets.yml")
    binary = tmp_path / "k3s"
    binary.write_bytes(b"#!/bin/sh\n")
    inventories.write_inventories(lab_containers(), binary)
    return tmp_path


def raw(lab_dir: Path, kind: str) -> dict:
    return yaml.safe_load((lab_dir / f"inventory-{kind}.yml").read_text())


def test_pct_inventory_lists_both_proxmox_nodes(lab_dir):
    assert raw(lab_dir, "pct")["proxmox_hosts"] == [
        {"name": "lab", "local": True, "pct_command": str(PCT)},
        {"name": "lab2", "pct_command": str(PCT),
         "ssh": {"host": "127.0.0.1", "port": 2222, "user": "root",
                 "key": str(ssh_keys.CLIENT_KEY), "known_hosts": str(ssh_keys.KNOWN_HOSTS)}},
    ]


def test_each_pct_host_names_its_own_node(lab_dir):
    hosts = [host for group in ("k3s_control", "k3s_workers", "haproxy") for host in raw(lab_dir, "pct")[group]]
    assert {host["name"]: host["pct"]["node"] for host in hosts} == {
        "k3s-control": "lab", "k3s-worker-1": "lab", "k3s-worker-2": "lab2", "haproxy": "lab"}


def test_ssh_inventory_has_no_proxmox_hosts_and_reaches_each_container(lab_dir):
    inventory = raw(lab_dir, "ssh")
    assert ("proxmox_hosts" in inventory, inventory["k3s_workers"][1]["ssh"]["host"]) == (False, "10.213.0.112")


def test_product_loader_reaches_lab2s_container_over_ssh_on_port_2222(lab_dir):
    worker_2 = next(host for host in load_inventory(lab_dir / "inventory-pct.yml").hosts if host.name == "k3s-worker-2")
    assert (worker_2.pyinfra_name, worker_2.data["pct_ssh_hostname"], worker_2.data["pct_ssh_port"],
            worker_2.data["pct_ssh_known_hosts_file"], worker_2.data["pct_ssh_strict_host_key_checking"]) == (
        "@pct/lab2/112", "127.0.0.1", 2222, str(ssh_keys.KNOWN_HOSTS), "yes")


def test_product_loader_reaches_labs_containers_locally(lab_dir):
    control = next(host for host in load_inventory(lab_dir / "inventory-pct.yml").hosts if host.name == "k3s-control")
    assert (control.pyinfra_name, "pct_ssh_hostname" in control.data) == ("@pct/lab/101", False)


def test_product_loader_makes_lab2_an_ssh_proxmox_host(lab_dir):
    lab2 = next(host for host in load_inventory(lab_dir / "inventory-pct.yml").hosts if host.name == "lab2")
    assert (lab2.pyinfra_name, lab2.groups, lab2.data["ssh_port"]) == ("lab2", ("proxmox_hosts",), 2222)


def test_known_hosts_has_lab2s_sshd_as_loopback_with_port(tmp_path, monkeypatch):
    monkeypatch.setattr(ssh_keys, "KNOWN_HOSTS", tmp_path / "known_hosts")
    monkeypatch.setattr(ssh_keys, "HOST_KEYS", tmp_path / "hostkeys")
    ssh_keys.write_known_hosts([])
    public = (tmp_path / "hostkeys" / "node-lab2" / "ssh_host_ed25519_key.pub").read_text().split()
    assert (tmp_path / "known_hosts").read_text() == f"[127.0.0.1]:2222 {public[0]} {public[1]}\n"


def test_ssh_config_names_lab2_at_its_loopback_port_with_host_key_checking(tmp_path, monkeypatch):
    monkeypatch.setattr(ssh_keys, "SSH_CONFIG", tmp_path / "config")
    ssh_keys.write_ssh_config()
    lines = [line.strip() for line in (tmp_path / "config").read_text().splitlines()]
    assert lines[1:5] == ["Host lab2", "HostName 127.0.0.1", "Port 2222", "User root"]
    assert {f"IdentityFile {ssh_keys.CLIENT_KEY}", f"UserKnownHostsFile {ssh_keys.KNOWN_HOSTS}",
            "StrictHostKeyChecking yes"} <= set(lines)
