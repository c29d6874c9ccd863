"""The lab's command line: `up`, `down`, `status`, `migrate`.

`up` is idempotent and repairs what it finds (a lab of another LAB_TOPOLOGY is rebuilt from scratch): a missing bridge, stopped containers (e.g. after the
machine restarted), containers built on an older rootfs, leftovers of an interrupted run, node
lab2's sshd missing or stale, a container's conf on another node than the topology's (moved back).
`migrate <vmid> <node>` moves a container as `pct migrate <vmid> <node> --restart` does
(lab/migration.py); it leaves the inventories as they are.

Example:

    python3 lab/lab.py up        # LAB_WORKERS=20 for a bigger lab
    python3 lab/lab.py status
    python3 lab/lab.py migrate 112 lab
    python3 lab/lab.py down [--purge-cache]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time

import containers
import host_conntrack
import network
import node_sshd
import ssh_keys
from charts import build_charts
from images import build_image_archives
from inventories import SECRETS, write_inventories
from k3s_standin.release import PREVIOUS_K3S_VERSION
from migration import MigrationError, migrate
from rootfs import ensure_rootfs
from standin_build import build_standin
from topology import (
    CACHE_DIR,
    LAB_DIR,
    SSH_NODE,
    SSH_NODE_ADDRESS,
    SSH_NODE_PORT,
    STATE_DIR,
    all_inventory_names,
    inventory_name,
    lab_containers,
    topology,
)

TOPOLOGY_MARK = STATE_DIR / "topology"


def up() -> int:
    started = time.monotonic()
    node_sshd.require_sshd()
    _start_over_if_another_topology_is_up()
    cts = lab_containers()
    lower = ensure_rootfs()
    network.ensure_bridge()
    host_conntrack.lower_conntrack_max()
    ssh_keys.ensure_client_key()
    _remove_strays({ct.vmid for ct in cts})
    for ct in cts:
        found_on = containers.conf_node(ct.vmid)
        if containers.ensure_container(ct, lower, cts):
            print(f"lab: created {ct.vmid} {ct.name} on node {ct.node}")
        elif found_on != ct.node:
            print(f"lab: moved {ct.vmid} {ct.name} from node {found_on} to node {ct.node}")
        if containers.state(ct.vmid) != "running":
            containers.start(ct.vmid, ct.node)
            print(f"lab: started {ct.vmid} {ct.name}")
    for ct in cts:
        print(f"lab: {ct.vmid} {ct.name} {ct.ip} systemd {containers.wait_booted(ct.vmid)}")
    if node_sshd.ensure_node_sshd():
        print(f"lab: started node {SSH_NODE}'s sshd on {SSH_NODE_ADDRESS}:{SSH_NODE_PORT}")
    ssh_keys.write_known_hosts(cts)
    ssh_keys.write_ssh_config()
    build_charts()
    build_image_archives()
    # The release before, for the rolling upgrade's test to start from (inventories.k3s_data).
    build_standin(PREVIOUS_K3S_VERSION)
    write_inventories(cts, build_standin())
    TOPOLOGY_MARK.write_text(topology() + "\n")
    print(f"lab: up in {time.monotonic() - started:.1f}s; inventories {LAB_DIR}/{inventory_name('ssh')}, "
          f"{inventory_name('pct')}")
    return 0


def down(purge_cache: bool) -> int:
    node_sshd.stop_node_sshd()
    for conf in sorted((containers.PVE_ROOT / "nodes").glob("*/lxc/*.conf")):
        if conf.stem.isdigit() and (STATE_DIR / "ct" / conf.stem).exists():
            containers.destroy(int(conf.stem))
    network.remove_bridge()
    host_conntrack.restore_conntrack_max()
    for generated in (*(LAB_DIR / name for name in all_inventory_names()), SECRETS):
        generated.unlink(missing_ok=True)
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    if purge_cache:
        shutil.rmtree(CACHE_DIR, ignore_errors=True)
    print("lab: down" + (" (cache purged)" if purge_cache else f" (cache kept in {CACHE_DIR})"))
    return 0


def status() -> int:
    print(f"bridge: {'up' if network.bridge_up() else 'missing'}")
    sshd_up = node_sshd.running_pid() is not None and node_sshd.listening()
    print(f"node {SSH_NODE} sshd: {'up' if sshd_up else 'down'} ({SSH_NODE_ADDRESS}:{SSH_NODE_PORT})")
    healthy = network.bridge_up() and sshd_up
    for ct in lab_containers():
        node = containers.conf_node(ct.vmid)
        state = containers.state(ct.vmid) if node else "missing"
        healthy &= state == "running"
        print(f"{ct.vmid:<6} {ct.name:<16} {ct.ip:<14} {node or '-':<6} {state}")
    return 0 if healthy else 1


def migrate_command(vmid: int, target: str) -> int:
    """`lab.py migrate`: the restart migration, then wait until the container has booted again."""
    try:
        migrate(vmid, target)
    except MigrationError as error:
        print(f"lab: migrate {vmid} {target}: {' '.join(str(error).splitlines())}", file=sys.stderr)
        return 255
    if containers.state(vmid) == "running":
        print(f"lab: {vmid} on node {target}: systemd {containers.wait_booted(vmid)}")
    return 0


def _start_over_if_another_topology_is_up() -> None:
    """Containers of another topology hold its cluster (a default-lab control node with an HA server's
    etcd data): the lab is taken down and built afresh rather than reused."""
    was = TOPOLOGY_MARK.read_text().strip() if TOPOLOGY_MARK.exists() else topology()
    if was != topology():
        print(f"lab: topology {was} is up; {topology()} starts from a fresh lab")
        down(purge_cache=False)


def _remove_strays(wanted: set[int]) -> None:
    """Containers the lab made earlier but no longer wants (e.g. fewer workers now)."""
    for ct_dir in (STATE_DIR / "ct").glob("*") if (STATE_DIR / "ct").exists() else []:
        if ct_dir.name.isdigit() and int(ct_dir.name) not in wanted:
            containers.destroy(int(ct_dir.name))
            print(f"lab: removed stray container {ct_dir.name}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up")
    sub.add_parser("status")
    down_parser = sub.add_parser("down")
    down_parser.add_argument("--purge-cache", action="store_true")
    migrate_parser = sub.add_parser("migrate", help="move a container to another node (pct migrate --restart)")
    migrate_parser.add_argument("vmid", type=int)
    migrate_parser.add_argument("node")
    args = parser.parse_args(argv)
    if args.command == "up":
        return up()
    if args.command == "down":
        return down(args.purge_cache)
    if args.command == "migrate":
        return migrate_command(args.vmid, args.node)
    return status()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
