"""Move a lab container to another Proxmox node as `pct migrate <vmid> <target> --restart` does.

Upstream: proxmox/pve-container src/PVE/API2/LXC.pm `migrate_vm` checks first
(`raise_param_exc({ target => "target is local node." }) if $target eq $localnode;`,
`PVE::Cluster::check_node_exists($target)`: `die "no such cluster node '$nodename'\\n"`), then
src/PVE/LXC/Migrate.pm runs the restart migration: `prepare` loads the conf, `check_lock`s it and
("in restart mode, we shutdown the container before migrating") logs `shutdown CT $vmid` and calls
`PVE::LXC::vm_stop($vmid, 0, $timeout)` (`lxc-stop --nokill --timeout`, 180 s by default; `die
"container did not stop\\n"` otherwise); `phase1` logs `starting migration of CT ... to node ...`,
writes `lock: migrate` into the conf, moves the volumes and calls `move_config_to_node`, a
`rename` of `nodes/<source>/lxc/<vmid>.conf` to `nodes/<target>/lxc/<vmid>.conf`
(proxmox/pve-guest-common src/PVE/AbstractConfig.pm); `final_cleanup` runs `pct unlock` and, for
a container that was running, `pct start` on the target ("start container on target node"). A
failure before the conf moved removes the lock and starts the container again on the source node.

The lab's volumes are an overlay on this machine that every node reaches, so only the conf moves.
An HA-managed container moves the same way here; real `migrate_vm` hands it to the HA stack
instead (`Requesting HA migration for CT $vmid to node $target`, `ha-manager migrate`).
The inventories are left as they are: after a real migration the operator's inventory is stale too.
(`lab.py up` puts every conf back on its topology node.)

Example:

    migrate(112, "lab")     # from lab2, where 112's conf is, to lab
"""

from __future__ import annotations

import containers
from topology import NODES

SHUTDOWN_TIMEOUT = 180


class MigrationError(Exception):
    """Why a migration did not start or did not finish, in pct's words."""


def migrate(vmid: int, target: str, timeout: int = SHUTDOWN_TIMEOUT) -> None:
    """Restart-migrate ``vmid`` from the node its conf is on to ``target``; print the task log.

    Raises:
        MigrationError: no such node, the target is the container's node, no conf, a lock, or the
        container did not stop (the container then runs on its source node as before).
    """
    source = containers.conf_node(vmid)
    if source is None:
        raise MigrationError(f"Configuration file 'nodes/*/lxc/{vmid}.conf' does not exist")
    if target == source:
        raise MigrationError("400 Parameter verification failed.\ntarget: target is local node.")
    if target not in NODES:
        raise MigrationError(f"no such cluster node '{target}'")
    lock = dict(containers.read_pve_conf(vmid, source)).get("lock")
    if lock:
        raise MigrationError(f"CT is locked ({lock})")
    was_running = containers.state(vmid) == "running"
    moved = False
    try:
        if was_running:
            print(f"shutdown CT {vmid}")
            containers.stop(vmid, timeout=timeout, kill_after_timeout=False)
            if containers.state(vmid) == "running":
                raise MigrationError("container did not stop")
        print(f"starting migration of CT {vmid} to node '{target}'")
        _set_lock(vmid, source, "migrate")
        containers.move_conf(vmid, source, target)
        moved = True
    finally:
        print("start final cleanup")
        node = target if moved else source
        _set_lock(vmid, node, None)
        if was_running and containers.state(vmid) != "running":
            print(f"start container on {'target' if moved else 'source'} node")
            containers.start(vmid, node)
    print("migration finished successfully")


def _set_lock(vmid: int, node: str, lock: str | None) -> None:
    """Write or remove the conf's `lock:` line (`write_config` with `$conf->{lock}`, `pct unlock`)."""
    path = containers.pve_conf_path(vmid, node)
    lines = [line for line in path.read_text().splitlines() if not line.startswith("lock:")]
    if lock is not None:
        lines.insert(0, f"lock: {lock}")
    partial = path.with_name(path.name + ".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(path)
