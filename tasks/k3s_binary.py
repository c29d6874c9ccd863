"""Ensures ``/usr/local/bin/k3s`` is the pinned k3s binary, checked by sha256."""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Generator, Iterator
from typing import Any

from pyinfra import host
from pyinfra.api import FileUploadCommand, StringCommand, operation

from facts.file_digests import FileDigests
from tasks.settings import data_error, value

K3S_BIN = "/usr/local/bin/k3s"
STAGED = "/usr/local/bin/.k3s.new"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def local_sha256(path: str) -> str:
    """sha256 of a file on the deploy machine, read once per deploy whatever the host count."""
    stat = os.stat(path)
    return _cached_sha256(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def desired_sha256() -> str:
    """The sha256 the installed binary must have, from ``k3s_sha256`` or the local file.

    With both ``k3s_binary_src`` and ``k3s_sha256`` the local file must match the pin, so a
    wrong file never reaches a host.
    """
    source = value("k3s_binary_src")
    url = value("k3s_binary_url")
    pinned = value("k3s_sha256")
    if pinned is not None and not SHA256.match(str(pinned)):
        raise data_error("k3s_sha256", "must be 64 lowercase hex digits")
    if bool(source) == bool(url):
        raise data_error("k3s_binary_src", "set exactly one of k3s_binary_src (air-gapped) and k3s_binary_url")
    if url:
        if not pinned:
            raise data_error("k3s_sha256", "required with k3s_binary_url")
        return pinned
    path = os.path.expanduser(str(source))
    if not os.path.isfile(path):
        raise data_error("k3s_binary_src", f"{source}: no such file on the deploy machine")
    actual = local_sha256(path)
    if pinned and actual != pinned:
        raise data_error("k3s_sha256", f"{source} has sha256 {actual}, not the pinned value")
    return actual


def _fetch_commands(sha256: str) -> Iterator[Any]:
    """Stage the binary beside its target, verify it there, then move it into place atomically."""
    url = value("k3s_binary_url")
    if url:
        yield StringCommand("curl", "-fsSL", "--retry", "3", "-o", STAGED, str(url))
    else:
        yield FileUploadCommand(
            os.path.expanduser(str(value("k3s_binary_src"))),
            STAGED,
            remote_temp_filename=host.get_temp_filename(STAGED),
        )
    yield (
        f"echo '{sha256}  {STAGED}' | sha256sum -c --quiet "
        f"|| {{ rm -f {STAGED}; echo 'k3s binary sha256 mismatch' >&2; exit 1; }}"
    )
    yield StringCommand("chmod", "755", STAGED, "&&", "mv", "-f", STAGED, K3S_BIN)


@operation()
def k3s_binary(sha256: str) -> Generator[Any, None, None]:
    """
    Install the k3s binary at ``/usr/local/bin/k3s`` from ``k3s_binary_src`` (a file on the
    deploy machine, for air-gapped hosts) or ``k3s_binary_url``; the sha256 is checked on the host
    before the binary replaces the old one.

    + sha256: the binary's expected sha256, from ``desired_sha256()`` (which validates host data)

    **Example:**

    .. code:: python

        k3s_binary(name="Install k3s binary", sha256=desired_sha256())
    """
    current = host.get_fact(FileDigests, paths=[K3S_BIN]).get(K3S_BIN)
    if current and current["sha256"] == sha256 and current["mode"] == "755":
        host.noop(f"k3s binary {sha256[:12]} is installed")
        return
    yield StringCommand("mkdir", "-p", os.path.dirname(K3S_BIN))
    yield from _fetch_commands(sha256)
