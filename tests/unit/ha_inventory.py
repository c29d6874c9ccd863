"""An inventory YAML loaded as deploy.py sees it: the validated hosts (inventory_schema) in a
pyinfra inventory with their groups, and the readers' host context on one of them.

Example:
    with on_inventory_host(cluster(servers=3), "k3s-control-2"):
        config_entries()["server"] == "https://192.0.2.121:6443"
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_host, ctx_inventory, ctx_state

from inventory_schema import load_inventory


def cluster(servers: int = 3, haproxy: bool = True, data: dict[str, Any] | None = None,
            pct_nodes: list[str] | None = None) -> dict[str, Any]:
    """An inventory with ``servers`` control hosts (192.0.2.101..), one worker and maybe HAProxy;
    with ``pct_nodes``, the control hosts are containers on those Proxmox nodes, in turn."""
    def control(index: int) -> dict[str, Any]:
        name = "k3s-control" if index == 1 else f"k3s-control-{index}"
        entry: dict[str, Any] = {"name": name, "node_ip": f"192.0.2.{100 + index}"}
        if pct_nodes:
            entry["pct"] = {"node": pct_nodes[(index - 1) % len(pct_nodes)], "vmid": 100 + index}
        else:
            entry["ssh"] = {"host": f"192.0.2.{100 + index}"}
        return entry

    raw: dict[str, Any] = {
        "data": {"k3s_version": "v1.31.4+k3s1", **(data or {})},
        "k3s_control": [control(index) for index in range(1, servers + 1)],
        "k3s_workers": [{"name": "k3s-worker-1", "ssh": {"host": "192.0.2.111"}, "node_ip": "192.0.2.111"}],
    }
    if haproxy:
        raw["haproxy"] = [{"name": "haproxy", "ssh": {"host": "192.0.2.121"}, "node_ip": "192.0.2.121"}]
    if pct_nodes:
        raw["proxmox_hosts"] = [{"name": node, "ssh": {"host": "192.0.2.10"}} for node in sorted(set(pct_nodes))]
    return raw


@contextmanager
def on_inventory_host(raw: dict[str, Any], name: str, tmp_path: Path) -> Iterator[Inventory]:
    """The pyinfra context of host ``name`` (its inventory name) in the inventory ``raw``."""
    path = tmp_path / "cluster.yml"
    path.write_text(yaml.safe_dump(raw))
    loaded = load_inventory(path)
    groups: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for member in loaded.hosts:
        for group in member.groups:
            groups.setdefault(group, ([], {}))[0].append(member.pyinfra_name)
    pyinfra_inventory = Inventory(([(member.pyinfra_name, dict(member.data)) for member in loaded.hosts], {}),
                                  **groups)
    state = State(pyinfra_inventory, Config())
    target = next(member.pyinfra_name for member in loaded.hosts if member.name == name)
    with ctx_state.use(state), ctx_inventory.use(pyinfra_inventory), \
            ctx_host.use(pyinfra_inventory.get_host(target)):
        yield pyinfra_inventory
