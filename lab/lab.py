"""The lab's command line: `up`, `down`, `status`.

`up` is idempotent and repairs what it finds: a missing bridge, stopped containers (e.g. after the
machine restarted), containers built on an older rootfs, leftovers of an interrupted run.

Example:

    python3 lab/lab.py up        # LAB_WORKERS=20 for a bigger lab
    python3 lab/lab.py status
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
import ssh_keys
from inventories import SECRETS, write_inventories
from rootfs import ensure_rootfs
from standin_build import build_standin
from topology import CACHE_DIR, LAB_DIR, PVE_DIR, STATE_DIR, lab_containers


def up() -> int:
    started = time.monotonic()
    cts = lab_containers()
    lower = ensure_rootfs()
    network.ensure_bridge()
    host_conntrack.lower_conntrack_max()
    ssh_keys.ensure_client_key()
    _remove_strays({ct.vmid for ct in cts})
    for ct in cts:
        if containers.ensure_container(ct, lower, cts):
            print(f"lab: created {ct.vmid} {ct.name}")
        if containers.state(ct.vmid) != "running":
            containers.start(ct.vmid)
            print(f"lab: started {ct.vmid} {ct.name}")
    for ct in cts:
        print(f"lab: {ct.vmid} {ct.name} {ct.ip} systemd {containers.wait_booted(ct.vmid)}")
    ssh_keys.write_known_hosts(cts)
    write_inventories(cts, build_standin())
    print(f"lab: up in {time.monotonic() - started:.1f}s; inventories in {LAB_DIR}/inventory-{{ssh,pct}}.yml")
    return 0


def down(purge_cache: bool) -> int:
    for conf in sorted(PVE_DIR.glob("*.conf")) if PVE_DIR.exists() else []:
        if conf.stem.isdigit() and (STATE_DIR / "ct" / conf.stem).exists():
            containers.destroy(int(conf.stem))
    network.remove_bridge()
    host_conntrack.restore_conntrack_max()
    for generated in (LAB_DIR / "inventory-ssh.yml", LAB_DIR / "inventory-pct.yml", SECRETS):
        generated.unlink(missing_ok=True)
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    if purge_cache:
        shutil.rmtree(CACHE_DIR, ignore_errors=True)
    print("lab: down" + (" (cache purged)" if purge_cache else f" (cache kept in {CACHE_DIR})"))
    return 0


def status() -> int:
    print(f"bridge: {'up' if network.bridge_up() else 'missing'}")
    healthy = network.bridge_up()
    for ct in lab_containers():
        exists = containers.pve_conf_path(ct.vmid).exists()
        state = containers.state(ct.vmid) if exists else "missing"
        healthy &= state == "running"
        print(f"{ct.vmid:<6} {ct.name:<16} {ct.ip:<14} {state}")
    return 0 if healthy else 1


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
    args = parser.parse_args(argv)
    if args.command == "up":
        return up()
    if args.command == "down":
        return down(args.purge_cache)
    return status()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
