"""The cluster's state kept before a rolling upgrade touches a node, as the k3s docs ask before an
upgrade ("Backup and Restore", docs.k3s.io/datastore/backup-restore):

* several servers (embedded etcd): an etcd snapshot on the first server, k3s's own
  ``k3s etcd-snapshot save --name pre-upgrade-<UTC>`` (tasks/restart.py's operation), kept in
  ``/var/lib/rancher/k3s/server/db/snapshots``;
* one server (k3s's default sqlite datastore, ``server/db/state.db``, opened by kine in WAL mode): a
  consistent copy made with sqlite's online backup API (Python's ``sqlite3.Connection.backup``, which
  copies a snapshot even while k3s writes), by the host's python3, to
  ``server/db/pre-upgrade-<UTC>.db``, mode 0600 (it holds every Secret of the cluster).

Example:
    datastore_copied(name="Datastore copy before the upgrade", copy=datastore_copy_path("20250101T000000Z"))
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

from pyinfra.api import StringCommand, operation
from pyinfra.api.command import QuoteString

DATASTORE = "/var/lib/rancher/k3s/server/db/state.db"
# Copies the datastore given first to the path given second through a .partial file, 0600 from the start.
_COPY = """\
import os, sqlite3, sys
source, copy = sys.argv[1], sys.argv[2]
if not os.path.isfile(source):
    sys.exit("no sqlite datastore at %s (an external datastore is backed up where it runs)" % source)
os.umask(0o077)
partial = copy + ".partial"
reader, writer = sqlite3.connect(source), sqlite3.connect(partial)
with writer:
    reader.backup(writer)
writer.close()
reader.close()
os.chmod(partial, 0o600)
os.replace(partial, copy)
print(copy)
"""


def backup_time(now: float | None = None) -> str:
    """The UTC time that names this run's snapshot or copy, e.g. ``20250101T000000Z``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def snapshot_name(when: str) -> str:
    """The etcd snapshot's name; k3s adds the node name and its own time."""
    return f"pre-upgrade-{when}"


def datastore_copy_path(when: str) -> str:
    """Where the sqlite copy goes, beside the datastore.

    Example:
        datastore_copy_path("20250101T000000Z") == "/var/lib/rancher/k3s/server/db/pre-upgrade-20250101T000000Z.db"
    """
    return f"{DATASTORE.rsplit('/', 1)[0]}/{snapshot_name(when)}.db"


def copy_command(copy: str) -> StringCommand:
    return StringCommand("python3", "-c", QuoteString(_COPY), DATASTORE, copy)


@operation(is_idempotent=False)
def datastore_copied(copy: str) -> Generator[Any, None, None]:
    """
    Copy the single server's sqlite datastore consistently to ``copy`` (0600) before an upgrade.

    + copy: the copy's path, from ``datastore_copy_path()``

    **Example:**

    .. code:: python

        datastore_copied(name="Datastore copy", copy=datastore_copy_path(backup_time()))
    """
    yield copy_command(copy)
