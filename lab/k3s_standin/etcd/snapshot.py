"""`k3s etcd-snapshot save|ls` and the restore of `k3s server --cluster-reset
--cluster-reset-restore-path=<file>`, as k3s-io/k3s pkg/etcd/snapshot.go and pkg/cli/etcdsnapshot.

Save (snapshot.go `Snapshot`): the local member's database through the v3 API (etcd's
Maintenance.Snapshot, as etcdctl's `snapshot save`) into `<snapshot-dir>/<name>-<node-name>-<unix
time>`, name `on-demand` unless `--name` is given; snapshot dir `<data-dir>/server/db/snapshots`
unless etcd-snapshot-dir. Ls prints k3s's table `Name Location Size Created`
(pkg/cli/etcdsnapshot/etcd_snapshot.go `list`). Restore (etcd.go `Restore`): the member's data dir
moves aside to `db/etcd-old-<unix time>` and `etcdctl snapshot restore` (etcd-client; etcd 3.4 has
no etcdutl) writes a fresh one for this member alone, which then starts with --force-new-cluster.

Example:
    path = save(options, member.local, "on-demand")
    for row in listing(options): print(row)
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import time
from typing import Any

from k3s_standin.etcd.gateway import Gateway

ETCDCTL = "/usr/bin/etcdctl"
DEFAULT_NAME = "on-demand"


def save(options: Any, etcd: Gateway, name: str = DEFAULT_NAME) -> str:
    """Write a snapshot; returns its path. A partial file never carries the snapshot's name."""
    directory = options.snapshot_dir
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, f"{name}-{options.node_name}-{int(time.time())}")
    partial = path + ".part"
    try:
        with open(partial, "wb") as handle:
            etcd.snapshot(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return path


def listing(options: Any) -> list[str]:
    """`k3s etcd-snapshot ls` lines: header, then one row per snapshot file, oldest first."""
    directory = options.snapshot_dir
    rows = [("Name", "Location", "Size", "Created")]
    names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    entries = []
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(".part") or not os.path.isfile(path):
            continue
        stat = os.stat(path)
        created = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.timezone.utc)
        entries.append((stat.st_mtime, (name, f"file://{path}", str(stat.st_size),
                                        created.strftime("%Y-%m-%dT%H:%M:%SZ"))))
    rows += [row for _, row in sorted(entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return [" ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


class RestoreError(RuntimeError):
    """The snapshot could not be restored; the message is k3s's."""


def restore(snapshot_path: str, db_dir: str, name: str, peer_url: str) -> None:
    """Replace the member's data dir with the snapshot's contents for a one-member cluster."""
    if not os.path.exists(snapshot_path):
        raise RestoreError(f"etcd: snapshot path does not exist: {snapshot_path}")
    if os.path.isdir(snapshot_path):
        raise RestoreError(f"etcd: snapshot path must be a file, not a directory: {snapshot_path}")
    if not os.access(ETCDCTL, os.X_OK):
        raise RestoreError(f"etcd: snapshot restore needs {ETCDCTL} (Debian package etcd-client)")
    member_dir = os.path.join(db_dir, "member")
    if os.path.isdir(member_dir):
        old = f"{db_dir}-old-{int(time.time())}"
        shutil.move(db_dir, old)
        os.makedirs(db_dir, mode=0o700)
        name_file = os.path.join(old, "name")
        if os.path.exists(name_file):
            shutil.copy2(name_file, os.path.join(db_dir, "name"))
    restored = f"{db_dir}.restore"
    shutil.rmtree(restored, ignore_errors=True)
    result = subprocess.run([ETCDCTL, "snapshot", "restore", snapshot_path, f"--name={name}",
                             f"--data-dir={restored}", f"--initial-cluster={name}={peer_url}",
                             f"--initial-advertise-peer-urls={peer_url}"],
                            env={**os.environ, "ETCDCTL_API": "3"}, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        shutil.rmtree(restored, ignore_errors=True)
        raise RestoreError(f"etcd: snapshot restore failed: {result.stderr.strip().splitlines()[-1:]}")
    os.replace(os.path.join(restored, "member"), member_dir)
    shutil.rmtree(restored, ignore_errors=True)
