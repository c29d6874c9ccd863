"""The server's durable datastore: sqlite, one row per object, one committed transaction per write,
as k3s's default kine backend keeps Kubernetes objects in `<data-dir>/server/db/state.db`.

kine (github.com/k3s-io/kine, pkg/drivers/sqlite/sqlite.go) opens `db/state.db?_journal=WAL` and
commits each write before the apiserver answers; here `synchronous=FULL` makes every commit fsync the
WAL, so a write the API acknowledged survives a SIGKILL of the server right after. kine keeps a row
per revision and compacts old ones; the stand-in needs only the latest object and the revision
counter, so it keeps one row per object.

Example:
    database = Database("/var/lib/rancher/k3s/server/db/state.db")
    database.write(7, "/namespaces", ("", "web"), namespace_object)
    revision, objects = database.load()
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]
SCHEMA = ("CREATE TABLE IF NOT EXISTS objects (key TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
          " value TEXT NOT NULL, PRIMARY KEY (key, namespace, name))",
          "CREATE TABLE IF NOT EXISTS revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)")


class Database:
    """A sqlite file written through by the store; the caller serialises access (the store's lock)."""

    def __init__(self, file_name: str) -> None:
        os.makedirs(os.path.dirname(file_name), mode=0o700, exist_ok=True)
        # Autocommit mode: transactions are the explicit BEGIN IMMEDIATE ... COMMIT of `write`.
        self.connection = sqlite3.connect(file_name, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            self.connection.execute(statement)

    def load(self) -> tuple[int, Iterator[tuple[str, Obj]]]:
        """The stored revision (1 for a new file) and every (storage key, object)."""
        row = self.connection.execute("SELECT value FROM revision WHERE id = 1").fetchone()
        rows = self.connection.execute("SELECT key, value FROM objects").fetchall()
        return (int(row[0]) if row else 1), ((key, json.loads(value)) for key, value in rows)

    def write(self, revision: int, key: str, name: tuple[str, str], obj: Obj | None) -> None:
        """Store `obj` (None deletes it) and the new revision in one committed transaction."""
        namespace, object_name = name
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            if obj is None:
                cursor.execute("DELETE FROM objects WHERE key = ? AND namespace = ? AND name = ?",
                               (key, namespace, object_name))
            else:
                cursor.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                               (key, namespace, object_name, json.dumps(obj, separators=(",", ":"))))
            cursor.execute("INSERT OR REPLACE INTO revision VALUES (1, ?)", (revision,))
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.connection.close()
