"""The single server's datastore copy before an upgrade, run here as the host's python3 runs it: a
consistent copy of a WAL-mode sqlite file that another connection is writing, 0600, under the name the
docs give; and the etcd snapshot's name."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from tasks.upgrade_backup import _COPY, backup_time, datastore_copy_path, snapshot_name

WHEN = "20250101T000000Z"


def datastore(path) -> sqlite3.Connection:
    """A datastore as kine opens it (WAL), with a write left uncheckpointed in the WAL file."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE kine (name TEXT, value BLOB)")
    connection.execute("INSERT INTO kine VALUES ('/registry/secrets/kube-system/k3s-serving', x'00')")
    return connection


def copy(source, target) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _COPY, str(source), str(target)], capture_output=True, text=True)


def test_the_copy_holds_writes_still_in_the_wal_and_is_0600(tmp_path):
    writer = datastore(tmp_path / "state.db")
    result = copy(tmp_path / "state.db", tmp_path / "pre-upgrade.db")
    writer.close()
    assert result.returncode == 0, result.stderr
    rows = sqlite3.connect(tmp_path / "pre-upgrade.db").execute("SELECT name FROM kine").fetchall()
    assert (rows, oct(os.stat(tmp_path / "pre-upgrade.db").st_mode & 0o777)) == (
        [("/registry/secrets/kube-system/k3s-serving",)], "0o600")


def test_no_datastore_fails_with_one_line_and_creates_nothing(tmp_path):
    result = copy(tmp_path / "state.db", tmp_path / "pre-upgrade.db")
    assert (result.returncode, result.stderr.strip(), sorted(os.listdir(tmp_path))) == (
        1, f"no sqlite datastore at {tmp_path / 'state.db'} (an external datastore is backed up where it runs)", [])


def test_names_carry_the_utc_time():
    assert (backup_time(0), snapshot_name(WHEN), datastore_copy_path(WHEN)) == (
        "19700101T000000Z", "pre-upgrade-20250101T000000Z",
        "/var/lib/rancher/k3s/server/db/pre-upgrade-20250101T000000Z.db")
