"""Load and validate the operator's cluster YAML (the contract is in docs/ARCHITECTURE.md).

Every problem is raised as ``InventoryError`` with one line naming the host and the field, so an
operator sees exactly what to fix::

    inventory: host k3s-worker-1: field pct.vmid: must be an integer from 100 to 999999999

Example:

    inv = load_inventory("lab/inventory-ssh.yml")
    for host in inv.hosts:
        print(host.pyinfra_name, host.groups, host.data["node_ip"])
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inventory_schema.control_plane import ServerCountError, check_server_count, registration_address, server_url
from tasks.settings import SECRET_KEYS, key_problem

K3S_GROUPS = ("k3s_control", "k3s_workers")
HOST_GROUPS = ("k3s_control", "k3s_workers", "haproxy")
ALL_GROUPS = HOST_GROUPS + ("proxmox_hosts",)
TOP_LEVEL_KEYS = frozenset(ALL_GROUPS + ("data", "secrets_file"))
HOST_KEYS = frozenset({"name", "ssh", "pct", "node_ip", "data"})
SSH_KEYS = frozenset({"host", "user", "port", "key", "known_hosts"})
PCT_KEYS = frozenset({"node", "vmid"})
PROXMOX_KEYS = frozenset({"name", "ssh", "local", "pct_command", "data"})
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_INVENTORY = "lab/inventory-ssh.yml"


class InventoryError(ValueError):
    """A one-line, operator-facing description of bad inventory input."""


@dataclass(frozen=True)
class InventoryHost:
    """One pyinfra host: its name, its groups and its data."""

    name: str
    pyinfra_name: str
    groups: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    """The validated inventory: hosts in YAML order (control nodes first)."""

    path: Path
    hosts: tuple[InventoryHost, ...]

    def group(self, name: str) -> list[InventoryHost]:
        """Hosts of one group, in inventory order."""
        return [host for host in self.hosts if name in host.groups]


def inventory_path() -> Path:
    """The YAML named by ``K3S_INVENTORY``, else the lab's SSH inventory."""
    return Path(os.environ.get("K3S_INVENTORY", DEFAULT_INVENTORY))


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read, validate and expand the YAML at ``path`` into pyinfra hosts."""
    path = Path(path)
    raw = _read_yaml(path, "inventory")
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        raise InventoryError(f"inventory: field {sorted(unknown)[0]}: unknown top-level field")
    cluster = _mapping(raw.get("data", {}), "cluster", "data")
    _known_keys(cluster, "inventory: ")
    secrets = _load_secrets(path, raw.get("secrets_file"))
    proxmox = {node["name"]: node for node in _proxmox_nodes(raw.get("proxmox_hosts") or [])}
    entries = [(group, entry) for group in HOST_GROUPS for entry in _host_list(raw, group)]
    if not any(group == "k3s_control" for group, _ in entries):
        raise InventoryError("inventory: field k3s_control: at least one control host is required")
    url = server_url(_registration_address(entries, cluster))
    hosts = [_build_host(group, entry, cluster, secrets, proxmox, url) for group, entry in entries]
    hosts += [_proxmox_host(node) for node in proxmox.values()]
    _check_unique(hosts)
    return Inventory(path=path, hosts=tuple(hosts))


def _registration_address(entries: list[tuple[str, dict[str, Any]]], cluster: dict[str, Any]) -> str:
    """The address in every host's ``k3s_server_url`` (inventory_schema/control_plane.py)."""
    def ips(group: str) -> list[str]:
        return [_node_ip(entry, str(entry.get("name"))) for member, entry in entries if member == group]

    controls = ips("k3s_control")
    try:
        check_server_count(len(controls))
    except ServerCountError as error:
        raise InventoryError(str(error)) from None
    override = cluster.get("k3s_registration_address")
    if override is not None and (not isinstance(override, str) or not override or " " in override):
        raise InventoryError("inventory: field data.k3s_registration_address: must be an address or DNS name")
    return registration_address(controls, ips("haproxy"), override)


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        hint = " (set K3S_INVENTORY)" if what == "inventory" else ""
        raise InventoryError(f"{what}: file {path}: not found{hint}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise InventoryError(f"{what}: file {path}{where}: invalid YAML") from None
    if not isinstance(loaded, dict):
        raise InventoryError(f"{what}: file {path}: must be a mapping")
    return loaded


def _load_secrets(inventory_file: Path, secrets_file: Any) -> dict[str, str]:
    """Secrets come from a 0600 file next to the inventory, else from the environment."""
    secrets = {key: os.environ[key.upper()] for key in SECRET_KEYS if os.environ.get(key.upper())}
    if secrets_file is None:
        return secrets
    path = (inventory_file.parent / str(secrets_file)).expanduser()
    if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise InventoryError(f"inventory: field secrets_file: {path} must be mode 0600")
    loaded = _read_yaml(path, "secrets")
    unknown = set(loaded) - SECRET_KEYS
    if unknown:
        raise InventoryError(f"secrets: field {sorted(unknown)[0]}: unknown secret")
    return {**{key: str(value) for key, value in loaded.items()}, **secrets}


def _proxmox_nodes(entries: Any) -> list[dict[str, Any]]:
    nodes = _list(entries, "proxmox_hosts")
    for node in nodes:
        name = _name(node, "proxmox_hosts")
        _only(node, PROXMOX_KEYS, name)
        if not node.get("local") and "ssh" not in node:
            raise InventoryError(f"inventory: host {name}: field ssh: required unless local: true")
        if "ssh" in node:
            _ssh(node["ssh"], name)
    return nodes


def _host_list(raw: dict[str, Any], group: str) -> list[dict[str, Any]]:
    entries = _list(raw.get(group) or [], group)
    for entry in entries:
        name = _name(entry, group)
        _only(entry, HOST_KEYS, name)
        if ("ssh" in entry) == ("pct" in entry):
            raise InventoryError(f"inventory: host {name}: field ssh/pct: exactly one of them is required")
    return entries


def _build_host(
    group: str,
    entry: dict[str, Any],
    cluster: dict[str, Any],
    secrets: dict[str, str],
    proxmox: dict[str, dict[str, Any]],
    k3s_server_url: str,
) -> InventoryHost:
    name = entry["name"]
    data: dict[str, Any] = {**cluster, **secrets, **_host_data(entry, name)}
    data.update(node_name=name, node_ip=_node_ip(entry, name), k3s_server_url=k3s_server_url)
    if group in K3S_GROUPS:
        data["k3s_role"] = "server" if group == "k3s_control" else "agent"
    if "ssh" in entry:
        data.update(_ssh_data(_ssh(entry["ssh"], name), "ssh_"))
        return InventoryHost(name=name, pyinfra_name=name, groups=(group,), data=data)
    node, vmid = _pct(entry["pct"], name, proxmox)
    data.update(pct_node=node["name"], pct_vmid=vmid, pct_command=node.get("pct_command", "pct"))
    if not node.get("local"):
        data.update(_ssh_data(_ssh(node["ssh"], node["name"]), "pct_ssh_"))
    return InventoryHost(name=name, pyinfra_name=f"@pct/{node['name']}/{vmid}", groups=(group,), data=data)


def _proxmox_host(node: dict[str, Any]) -> InventoryHost:
    """A Proxmox host's own ``data:`` (e.g. ``repair_timer``); the cluster's ``data:`` is for the k3s hosts."""
    data = {**_host_data(node, node["name"]),
            "node_name": node["name"], "pct_command": node.get("pct_command", "pct")}
    if node.get("local"):
        return InventoryHost(name=node["name"], pyinfra_name="@local", groups=("proxmox_hosts",), data=data)
    data.update(_ssh_data(_ssh(node["ssh"], node["name"]), "ssh_"))
    return InventoryHost(name=node["name"], pyinfra_name=node["name"], groups=("proxmox_hosts",), data=data)


def _host_data(entry: dict[str, Any], name: str) -> dict[str, Any]:
    data = _mapping(entry.get("data", {}), name, "data")
    _known_keys(data, f"inventory: host {name}: ")
    return data


def _known_keys(data: dict[str, Any], where: str) -> None:
    """Every key of a ``data:`` mapping is a setting of ``tasks.settings`` (a misspelt one would
    otherwise be ignored in silence)."""
    for key in sorted(data):
        if problem := key_problem(str(key)):
            raise InventoryError(f"{where}field data.{key}: {problem}")


def _ssh(ssh: Any, name: str) -> dict[str, Any]:
    ssh = _mapping(ssh, name, "ssh")
    _only(ssh, SSH_KEYS, name, "ssh.")
    if not isinstance(ssh.get("host"), str) or not ssh["host"]:
        raise InventoryError(f"inventory: host {name}: field ssh.host: missing")
    port = ssh.get("port", 22)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise InventoryError(f"inventory: host {name}: field ssh.port: must be an integer from 1 to 65535")
    return ssh


def _ssh_data(ssh: dict[str, Any], prefix: str) -> dict[str, Any]:
    """pyinfra's SSH data, with host key checking always on."""
    data = {
        f"{prefix}hostname": ssh["host"],
        f"{prefix}user": ssh.get("user", "root"),
        f"{prefix}port": ssh.get("port", 22),
        f"{prefix}strict_host_key_checking": "yes",
    }
    if "key" in ssh:
        data[f"{prefix}key"] = str(Path(ssh["key"]).expanduser())
    if "known_hosts" in ssh:
        data[f"{prefix}known_hosts_file"] = str(Path(ssh["known_hosts"]).expanduser())
    return data


def _pct(pct: Any, name: str, proxmox: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], int]:
    pct = _mapping(pct, name, "pct")
    _only(pct, PCT_KEYS, name, "pct.")
    node = proxmox.get(pct.get("node"))
    if node is None:
        raise InventoryError(f"inventory: host {name}: field pct.node: {pct.get('node')!r} is not in proxmox_hosts")
    vmid = pct.get("vmid")
    if not isinstance(vmid, int) or isinstance(vmid, bool) or not 100 <= vmid <= 999_999_999:
        raise InventoryError(f"inventory: host {name}: field pct.vmid: must be an integer from 100 to 999999999")
    return node, vmid


def _node_ip(entry: dict[str, Any], name: str) -> str:
    value = entry.get("node_ip")
    if value is None:
        raise InventoryError(f"inventory: host {name}: field node_ip: missing")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise InventoryError(f"inventory: host {name}: field node_ip: {value!r} is not an IP address") from None


def _name(entry: Any, group: str) -> str:
    entry = _mapping(entry, group, "entry")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InventoryError(f"inventory: group {group}: field name: {name!r} is not a DNS-1123 host name")
    return name


def _only(mapping: dict[str, Any], allowed: frozenset[str], name: str, prefix: str = "") -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise InventoryError(f"inventory: host {name}: field {prefix}{sorted(unknown)[0]}: unknown field")


def _mapping(value: Any, name: str, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InventoryError(f"inventory: host {name}: field {field_name}: must be a mapping")
    return value


def _list(value: Any, group: str) -> list[Any]:
    if not isinstance(value, list):
        raise InventoryError(f"inventory: group {group}: field {group}: must be a list of hosts")
    return value


def _check_unique(hosts: list[InventoryHost]) -> None:
    for attribute in ("name", "pyinfra_name"):
        seen: set[str] = set()
        for host in hosts:
            value = getattr(host, attribute)
            if value in seen:
                raise InventoryError(f"inventory: host {host.name}: field name: listed twice ({value})")
            seen.add(value)
