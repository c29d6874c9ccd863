"""What the lab is made of: Proxmox nodes, containers, addresses, bridge and where its files live.

Two Proxmox nodes, as a small cluster has them: `lab` is this machine (reached locally) and `lab2`
is reached over SSH on loopback (lab/node_sshd.py). LXC runs every container on this machine; a
container's node is where its conf lives, and so which node's `pct` sees it.

Two topologies, chosen by LAB_TOPOLOGY: `default` (one control container, 101) and `ha` (three
control containers on embedded etcd, 101 and 103 on node `lab`, 102 on node `lab2`, so one Proxmox
node holds two members: what preflight warns about, and what a `lab` reboot would cost). Each has
its own inventory files (`inventory_name`), so the default lab's tests never run against the HA one.

Example:

    for ct in lab_containers():
        print(ct.vmid, ct.name, ct.ip, ct.node)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BRIDGE = "k3slab0"
SUBNET_PREFIX = "10.213.0"
HOST_IP = f"{SUBNET_PREFIX}.1"
PREFIX_LEN = 24
REPO = Path(__file__).resolve().parent.parent
LAB_DIR = REPO / "lab"
CACHE_DIR = Path(os.environ.get("K3S_LAB_CACHE", "/var/cache/k3s-lab"))
STATE_DIR = Path("/var/lib/k3s-lab")
PVE_DIR = Path("/etc/pve/lxc")
LXC_DIR = Path("/var/lib/lxc")
SSH_DIR = LAB_DIR / "ssh"
BUILD_DIR = LAB_DIR / "build"
PCT = LAB_DIR / "bin" / "pct"
MAX_WORKERS = 120
TOPOLOGIES = ("default", "ha")
HA_SERVERS = 3
LAB_NODE = "lab"
SSH_NODE = "lab2"
NODES = (LAB_NODE, SSH_NODE)
# Loopback only: besides the lab's own bridge, the lab listens nowhere else.
SSH_NODE_ADDRESS = "127.0.0.1"
SSH_NODE_PORT = 2222


@dataclass(frozen=True)
class Container:
    """One lab container: Proxmox-style vmid, hostname, group, static address and the Proxmox node
    whose conf directory `lab.py up` creates it in."""

    vmid: int
    name: str
    group: str
    node: str = LAB_NODE

    @property
    def ip(self) -> str:
        return f"{SUBNET_PREFIX}.{self.vmid}"


def worker_count() -> int:
    """Workers come from LAB_WORKERS (default 2), bounded so addresses stay in the /24."""
    count = int(os.environ.get("LAB_WORKERS", "2"))
    if not 1 <= count <= MAX_WORKERS:
        raise SystemExit(f"lab: field LAB_WORKERS: must be 1 to {MAX_WORKERS}, got {count}")
    return count


def topology() -> str:
    """LAB_TOPOLOGY: `default` unless set."""
    chosen = os.environ.get("LAB_TOPOLOGY") or "default"
    if chosen not in TOPOLOGIES:
        raise SystemExit(f"lab: field LAB_TOPOLOGY: must be one of {', '.join(TOPOLOGIES)}, got {chosen!r}")
    return chosen


def inventory_name(reach: str, chosen: str | None = None) -> str:
    """The topology's inventory file for `ssh` or `pct` (LAB_TOPOLOGY's unless ``chosen``):
    `inventory-ssh.yml`, `inventory-ha-pct.yml`."""
    chosen = chosen or topology()
    return f"inventory-{reach}.yml" if chosen == "default" else f"inventory-{chosen}-{reach}.yml"


def all_inventory_names() -> list[str]:
    """Every topology's inventories: `lab.py down` removes them all, whichever topology was up."""
    return [inventory_name(reach, chosen) for chosen in TOPOLOGIES for reach in ("ssh", "pct")]


def lab_containers() -> list[Container]:
    """101 k3s-control, 111.. k3s-worker-N, 121 haproxy (workers past 9 go to 131+); even-numbered
    workers (112 k3s-worker-2 by default) on node lab2, the others on node lab. `ha` adds control
    containers 102 k3s-control-2 (node lab2) and 103 k3s-control-3 (node lab)."""
    workers = [_worker(index) for index in range(1, worker_count() + 1)]
    servers = HA_SERVERS if topology() == "ha" else 1
    return [_server(index) for index in range(1, servers + 1)] + [*workers, Container(121, "haproxy", "haproxy")]


def _server(index: int) -> Container:
    name = "k3s-control" if index == 1 else f"k3s-control-{index}"
    return Container(100 + index, name, "k3s_control", SSH_NODE if index % 2 == 0 else LAB_NODE)


def _worker(index: int) -> Container:
    vmid = 110 + index if index <= 9 else 121 + index
    return Container(vmid, f"k3s-worker-{index}", "k3s_workers", SSH_NODE if index % 2 == 0 else LAB_NODE)
