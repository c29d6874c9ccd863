"""inventory_schema: valid YAML becomes pyinfra hosts; bad input is one line naming host and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inventory_schema import InventoryError, load_inventory

VALID = {
    "data": {"k3s_version": "v1.31.4+k3s1"},
    "proxmox_hosts": [{"name": "pve1", "ssh": {"host": "192.0.2.10"}}],
    "k3s_control": [{"name": "k3s-control", "ssh": {"host": "192.0.2.101"}, "node_ip": "192.0.2.101"}],
    "k3s_workers": [{"name": "k3s-worker-1", "pct": {"node": "pve1", "vmid": 111}, "node_ip": "192.0.2.111"}],
    "haproxy": [{"name": "haproxy", "pct": {"node": "pve1", "vmid": 121}, "node_ip": "192.0.2.121"}],
}


def write(tmp_path: Path, content: dict) -> Path:
    path = tmp_path / "cluster.yml"
    path.write_text(yaml.safe_dump(content))
    return path


def with_change(path: list, value) -> dict:
    changed = yaml.safe_load(yaml.safe_dump(VALID))
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


def test_ssh_host_keeps_its_name_and_gets_strict_host_keys(tmp_path: Path) -> None:
    host = load_inventory(write(tmp_path, VALID)).group("k3s_control")[0]
    assert (host.pyinfra_name, host.data["ssh_hostname"], host.data["ssh_strict_host_key_checking"]) == \
        ("k3s-control", "192.0.2.101", "yes")


def test_pct_host_is_named_by_node_and_vmid(tmp_path: Path) -> None:
    host = load_inventory(write(tmp_path, VALID)).group("k3s_workers")[0]
    assert host.pyinfra_name == "@pct/pve1/111"
    assert (host.data["pct_vmid"], host.data["pct_ssh_hostname"], host.data["node_name"]) == \
        (111, "192.0.2.10", "k3s-worker-1")


def test_roles_and_server_url_come_from_groups(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, VALID))
    roles = {host.name: host.data.get("k3s_role") for host in inventory.hosts}
    assert roles == {"k3s-control": "server", "k3s-worker-1": "agent", "haproxy": None, "pve1": None}
    assert inventory.group("haproxy")[0].data["k3s_server_url"] == "https://192.0.2.101:6443"


def test_cluster_data_reaches_every_host(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, VALID))
    assert {host.data.get("k3s_version") for host in inventory.hosts if host.name != "pve1"} == {"v1.31.4+k3s1"}


def test_token_comes_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K3S_TOKEN", "from-env")
    assert load_inventory(write(tmp_path, VALID)).group("k3s_control")[0].data["k3s_token"] == "from-env"


def test_secrets_file_must_be_private(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yml"
    secrets.write_text("k3s_token: abc\n")
    secrets.chmod(0o644)
    with pytest.raises(InventoryError, match=r"^inventory: field secrets_file: .* must be mode 0600$"):
        load_inventory(write(tmp_path, {**VALID, "secrets_file": "secrets.yml"}))


@pytest.mark.parametrize(("change", "value", "message"), [
    (["k3s_workers", 0, "pct", "vmid"], "abc", "host k3s-worker-1: field pct.vmid: must be an integer"),
    (["k3s_workers", 0, "pct", "node"], "pve9", "host k3s-worker-1: field pct.node: 'pve9' is not in proxmox_hosts"),
    (["k3s_control", 0, "node_ip"], "300.1.1.1", "host k3s-control: field node_ip: '300.1.1.1' is not an IP"),
    (["k3s_control", 0, "node_ip"], None, "host k3s-control: field node_ip: missing"),
    (["k3s_control", 0, "ssh", "host"], None, "host k3s-control: field ssh.host: missing"),
    (["k3s_control", 0, "ssh", "port"], 70000, "host k3s-control: field ssh.port: must be an integer"),
    (["k3s_control", 0, "ssh", "hots"], "x", "host k3s-control: field ssh.hots: unknown field"),
    (["k3s_control", 0, "name"], "Bad_Name", "group k3s_control: field name: 'Bad_Name' is not a DNS-1123"),
    (["haproxy", 0, "ssh"], {"host": "192.0.2.121"}, "host haproxy: field ssh/pct: exactly one of them"),
    (["k3s_control"], [], "field k3s_control: at least one control host is required"),
    (["proxmox_hosts", 0, "ssh"], None, "host pve1: field ssh: required unless local: true"),
])
def test_bad_field_is_named_in_one_line(tmp_path: Path, change: list, value, message: str) -> None:
    with pytest.raises(InventoryError) as raised:
        load_inventory(write(tmp_path, with_change(change, value)))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_missing_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="not found .set K3S_INVENTORY."):
        load_inventory(tmp_path / "absent.yml")


def test_duplicate_host_is_refused(tmp_path: Path) -> None:
    duplicate = with_change(["k3s_workers"], VALID["k3s_workers"] * 2)
    with pytest.raises(InventoryError, match="host k3s-worker-1: field name: listed twice"):
        load_inventory(write(tmp_path, duplicate))


def test_inventory_py_exits_with_the_one_line_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = write(tmp_path, with_change(["k3s_control", 0, "node_ip"], None))
    result = subprocess.run([sys.executable, "-c", "import inventory"], cwd=Path(__file__).parents[2],
                            env={"K3S_INVENTORY": str(bad), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert (result.returncode, result.stderr.strip()) == (1, "inventory: host k3s-control: field node_ip: missing")


def test_documented_example_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "docs" / "cluster.example.yml"
    (tmp_path / "cluster.yml").write_text(example.read_text())
    (tmp_path / "secrets.yml").touch(mode=0o600)
    inventory = load_inventory(tmp_path / "cluster.yml")
    assert [host.pyinfra_name for host in inventory.hosts] == \
        ["k3s-control", "@pct/pve1/111", "@pct/pve1/112", "@pct/pve1/121", "pve1"]
