"""Lab containers as Proxmox keeps them: a `/etc/pve/nodes/<node>/lxc/<vmid>.conf` per container, from
which the LXC config is generated at every start (as `pct start` does), on an overlay over the cached rootfs.

The confs live in their node's directory and `/etc/pve/lxc` is a symlink to this node's, as pmxcfs
lays them out (proxmox/pve-cluster src/pmxcfs/pmxcfs.c: `cfs_plug_link_new("lxc", "nodes/<nodename>/lxc")`);
`pct` reads only its own node's (proxmox/pve-container src/PVE/LXC/Config.pm `cfs_config_path`:
`nodes/$node/lxc/$vmid.conf`). A process plays node `lab` unless `LAB_PVE_NODE` names another (the
sessions of node lab2's sshd set it); the lab itself (`lab.py`) works on every node's confs, as
pmxcfs shows all of them on every node.

`lxc.*` lines in the Proxmox conf pass through to LXC, so the deploy's Proxmox task changes the lab
the way it changes a real node.

Example:

    ensure_container(ct, lower); start(ct.vmid); wait_booted(ct.vmid)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import ssh_keys
from topology import BRIDGE, LAB_NODE, LXC_DIR, NODES, PREFIX_LEN, PVE_DIR, STATE_DIR, Container

LXC_INCLUDE = "/usr/share/lxc/config/debian.common.conf"
BOOT_TIMEOUT = 120
PVE_ROOT = PVE_DIR.parent


def this_node() -> str:
    """The Proxmox node this process plays: `LAB_PVE_NODE`, else the lab's one node."""
    return os.environ.get("LAB_PVE_NODE") or LAB_NODE


def node_lxc_dir(node: str) -> Path:
    """`/etc/pve/nodes/<node>/lxc`, where a node's container confs are."""
    return PVE_ROOT / "nodes" / node / "lxc"


def pve_conf_path(vmid: int, node: str | None = None) -> Path:
    """The conf of ``vmid`` on ``node`` (default: this node), whether or not it exists."""
    return node_lxc_dir(node or this_node()) / f"{vmid}.conf"


def conf_node(vmid: int) -> str | None:
    """The node whose directory holds the conf of ``vmid`` (cluster-wide, as in /etc/pve/nodes/*/lxc)."""
    found = sorted((PVE_ROOT / "nodes").glob(f"*/lxc/{int(vmid)}.conf"))
    return found[0].parent.parent.name if found else None


def ensure_node_layout() -> None:
    """Every node's conf directory and the cluster-wide `ha/`, with `/etc/pve/lxc` a relative
    symlink to this node's directory as pmxcfs makes it.

    A lab made before the layout has `/etc/pve/lxc` as a directory: its confs move into the node's.
    """
    for node in NODES:
        node_lxc_dir(node).mkdir(parents=True, exist_ok=True)
    (PVE_ROOT / "ha").mkdir(exist_ok=True)
    node_dir = node_lxc_dir(this_node())
    target = node_dir.relative_to(PVE_ROOT)
    node_dir.mkdir(parents=True, exist_ok=True)
    if PVE_DIR.is_symlink() and Path(os.readlink(PVE_DIR)) == target:
        return
    if PVE_DIR.is_symlink():
        PVE_DIR.unlink()
    elif PVE_DIR.is_dir():
        for conf in PVE_DIR.iterdir():
            conf.rename(node_dir / conf.name)
        PVE_DIR.rmdir()
    PVE_DIR.symlink_to(target)


def read_pve_conf(vmid: int, node: str | None = None) -> list[tuple[str, str]]:
    """The conf's `key: value` lines in file order (snapshot sections are not used by the lab)."""
    pairs = []
    for line in pve_conf_path(vmid, node).read_text().splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith("#"):
            pairs.append((key.strip(), value.strip()))
    return pairs


def upper_dir(vmid: int) -> Path:
    return STATE_DIR / "ct" / str(vmid) / "upper"


def move_conf(vmid: int, source: str, target: str) -> None:
    """Move the conf to another node's directory, as `move_config_to_node` does
    (proxmox/pve-guest-common src/PVE/AbstractConfig.pm: `rename($config_fn, $new_config_fn)`)."""
    pve_conf_path(vmid, source).rename(pve_conf_path(vmid, target))


def ensure_container(ct: Container, lower: Path, all_containers: list[Container]) -> bool:
    """Create the container on its node if missing or built on another rootfs; return True when
    (re)created. The conf of a container found on another node (made before the topology had
    nodes, or left by a migration) moves to the container's node; the container keeps running."""
    ensure_node_layout()
    rootfs = f"overlay:{lower}:{upper_dir(ct.vmid)}"
    node = conf_node(ct.vmid)
    if node is not None and dict(read_pve_conf(ct.vmid, node)).get("rootfs") == rootfs:
        if node != ct.node:
            move_conf(ct.vmid, node, ct.node)
        return False
    destroy(ct.vmid)
    upper = upper_dir(ct.vmid)
    upper.mkdir(parents=True)
    _seed(upper, ct, all_containers)
    pve_conf_path(ct.vmid, ct.node).write_text(_pve_conf(ct, rootfs))
    return True


def render_lxc_config(vmid: int, node: str | None = None) -> None:
    """Write LXC's config from the Proxmox conf on ``node`` (default: this node), as Proxmox does
    before each start."""
    conf = read_pve_conf(vmid, node)
    values = dict(conf)
    net = dict(item.split("=", 1) for item in values["net0"].split(","))
    lines = [
        f"lxc.include = {LXC_INCLUDE}",
        f"lxc.arch = {values.get('arch', 'amd64')}",
        f"lxc.uts.name = {values['hostname']}",
        f"lxc.rootfs.path = {values['rootfs']}",
        "lxc.net.0.type = veth",
        f"lxc.net.0.link = {net['bridge']}",
        "lxc.net.0.flags = up",
        f"lxc.net.0.name = {net['name']}",
        f"lxc.net.0.hwaddr = {net['hwaddr']}",
        f"lxc.net.0.ipv4.address = {net['ip']}",
    ]
    lines += [f"{key} = {value}" for key, value in conf if key.startswith("lxc.")]
    config_dir = LXC_DIR / str(vmid)
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config").write_text("\n".join(lines) + "\n")


def state(vmid: int) -> str:
    """`running` or `stopped`, as `pct status` words it."""
    result = subprocess.run(["lxc-info", "-n", str(vmid), "-s", "-H"], capture_output=True, text=True)
    return "running" if result.stdout.strip() == "RUNNING" else "stopped"


def start(vmid: int, node: str | None = None) -> None:
    """Start the container whose conf is on ``node`` (default: this node)."""
    render_lxc_config(vmid, node)
    subprocess.run(["lxc-start", "-n", str(vmid)], check=True)


def stop(vmid: int, timeout: int | None = None, kill_after_timeout: bool = True) -> None:
    """Clean shutdown within ``timeout`` seconds (then a kill, unless ``kill_after_timeout`` is
    False), or an immediate kill when ``timeout`` is None."""
    args = ["-k"] if timeout is None else ["-t", str(timeout), *([] if kill_after_timeout else ["--nokill"])]
    subprocess.run(["lxc-stop", "-n", str(vmid), *args], check=False, capture_output=True)


def wait_booted(vmid: int, timeout: int = BOOT_TIMEOUT) -> str:
    """Wait until systemd in the container reports running/degraded; return what it said."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        result = subprocess.run(
            ["lxc-attach", "-n", str(vmid), "--", "systemctl", "is-system-running"],
            capture_output=True, text=True,
        )
        last = result.stdout.strip()
        if last in ("running", "degraded"):
            return last
        time.sleep(1)
    raise SystemExit(f"lab: container {vmid}: field boot: systemd said {last!r} after {timeout}s")


def destroy(vmid: int) -> None:
    """Stop and remove the container and its conf, on whichever node it is."""
    if (LXC_DIR / str(vmid)).exists():
        stop(vmid)
    shutil.rmtree(LXC_DIR / str(vmid), ignore_errors=True)
    shutil.rmtree(STATE_DIR / "ct" / str(vmid), ignore_errors=True)
    node = conf_node(vmid)
    if node is not None:
        pve_conf_path(vmid, node).unlink()


def _pve_conf(ct: Container, rootfs: str) -> str:
    hwaddr = f"BC:24:11:13:{ct.vmid // 256:02X}:{ct.vmid % 256:02X}"
    return "\n".join([
        "arch: amd64",
        "cores: 2",
        f"hostname: {ct.name}",
        "memory: 2048",
        f"net0: name=eth0,bridge={BRIDGE},hwaddr={hwaddr},ip={ct.ip}/{PREFIX_LEN},type=veth",
        "ostype: debian",
        f"rootfs: {rootfs}",
        "swap: 0",
    ]) + "\n"


def _seed(upper: Path, ct: Container, all_containers: list[Container]) -> None:
    """Files a container needs before its first boot: name, peers' names, SSH identity."""
    etc = upper / "etc"
    etc.mkdir(parents=True)
    (etc / "hostname").write_text(f"{ct.name}\n")
    peers = "".join(f"{peer.ip} {peer.name}\n" for peer in all_containers)
    (etc / "hosts").write_text(f"127.0.0.1 localhost\n::1 localhost\n{peers}")
    ssh_keys.install_into(upper, ct)
