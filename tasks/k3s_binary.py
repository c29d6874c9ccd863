"""Ensures ``/usr/local/bin/k3s`` is the pinned k3s binary, checked by sha256 and by its version.

Sources, in order: ``k3s_binary_src`` (a file on the deploy machine, for air-gapped hosts),
``k3s_binary_url`` with ``k3s_sha256``, or ``k3s_version`` alone: then the release's binary URL
and its sha256 from the release's ``sha256sum-<arch>.txt`` line for the binary, as k3s-io/k3s
``install.sh`` does (``download_hash``: ``grep " k3s${SUFFIX}$"``), from ``k3s_release_url``
(default: the k3s releases; an internal mirror of the same layout works). Downloads run on the
host with its python3: Proxmox's debian-12-standard template has no curl.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
import urllib.parse
from collections.abc import Generator, Iterator
from typing import Any

import requests
from pyinfra import host
from pyinfra.api import FileUploadCommand, StringCommand, operation
from pyinfra.api.command import QuoteString

from facts.managed_state import Managed, changing, file_digests, managing
from tasks.settings import SETTINGS, data_error, one_of, value

K3S_BIN = "/usr/local/bin/k3s"
STAGED = "/usr/local/bin/.k3s.new"
SHA256 = re.compile(r"^[0-9a-f]{64}$")
RELEASES = SETTINGS["k3s_release_url"].default
# install.sh's SUFFIX: the amd64 asset is plain "k3s", others "k3s-<arch>"
ASSETS = {"amd64": "k3s", "arm64": "k3s-arm64", "arm": "k3s-armhf"}
# Downloads url to path with the host's python3 (no curl in Proxmox's template); retried 3 times.
_DOWNLOAD = """\
import shutil, sys, time, urllib.request
for attempt in range(3):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=60) as answer, open(sys.argv[2], "wb") as out:
            shutil.copyfileobj(answer, out)
        break
    except OSError as error:
        if attempt == 2:
            sys.exit("cannot download %s: %s" % (sys.argv[1], error))
        time.sleep(2)
"""


def release_urls(version: str, arch: str = "amd64", base: str = RELEASES) -> tuple[str, str]:
    """The binary's and the checksum list's URLs of a k3s release.

    Example:
        release_urls("v1.31.4+k3s1")[0] == RELEASES + "/v1.31.4%2Bk3s1/k3s"
    """
    tag = urllib.parse.quote(version, safe="")
    return f"{base}/{tag}/{ASSETS[arch]}", f"{base}/{tag}/sha256sum-{arch}.txt"


def checksum_for(checksums: str, asset: str) -> str | None:
    """The sha256 of ``asset`` in a ``sha256sum`` list (``<hex>  <name>`` lines), else ``None``."""
    for line in checksums.splitlines():
        digest, _, name = line.strip().partition(" ")
        if name.strip().lstrip("*") == asset and SHA256.match(digest):
            return digest
    return None


@functools.cache
def released_sha256(version: str, arch: str, base: str) -> str:
    """The release's published sha256 of its binary, read once per run on the deploy machine."""
    binary_url, checksums_url = release_urls(version, arch, base)
    try:
        answer = requests.get(checksums_url, timeout=30)
        answer.raise_for_status()
    except requests.RequestException as error:
        raise data_error("k3s_version", f"cannot read {checksums_url} ({type(error).__name__}); "
                                        "set k3s_sha256, or k3s_binary_src for an air-gapped install") from None
    digest = checksum_for(answer.text, ASSETS[arch])
    if digest is None:
        raise data_error("k3s_version", f"{checksums_url} lists no sha256 for {ASSETS[arch]}")
    return digest


def binary_url() -> str | None:
    """``k3s_binary_url``, else the release URL from ``k3s_version`` (``None`` for a local file)."""
    if value("k3s_binary_src"):
        return None
    return value("k3s_binary_url") or release_urls(
        str(value("k3s_version")), one_of("k3s_arch"), str(value("k3s_release_url")))[0]


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
    if source and url:
        raise data_error("k3s_binary_src", "set exactly one of k3s_binary_src (air-gapped) and k3s_binary_url")
    if not source and not url:
        version = value("k3s_version")
        if not version:
            raise data_error("k3s_version", "missing: set it (the release is downloaded and checked against its "
                                            "published sha256), or k3s_binary_src for an air-gapped install")
        return pinned or released_sha256(str(version), one_of("k3s_arch"), str(value("k3s_release_url")))
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


def fetch_commands(sha256: str) -> Iterator[Any]:
    """Stage the binary beside its target, verify it there (sha256, and ``k3s --version`` naming
    ``k3s_version`` when set), then move it into place atomically; the deploy's install and the
    rolling upgrade (tasks/upgrade.py) both replace the binary this way.

    Example:
        yield from fetch_commands(desired_sha256())
    """
    url = binary_url()
    if url:
        yield StringCommand("python3", "-c", QuoteString(_DOWNLOAD), QuoteString(url), STAGED)
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
    version = value("k3s_version")
    if version:
        # The binary must be the release the inventory names, not only the file it pins.
        expected = shlex.quote(f"k3s version {version} ")
        yield (f"chmod 755 {STAGED} && {STAGED} --version | head -n 1 | grep -qF {expected} "
               f"|| {{ echo \"k3s binary is not {version}: $({STAGED} --version | head -n 1)\" >&2; "
               f"rm -f {STAGED}; exit 1; }}")
    yield StringCommand("chmod", "755", STAGED, "&&", "mv", "-f", STAGED, K3S_BIN)


@managing(lambda sha256, **_: Managed(paths=[K3S_BIN]))
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
    current = file_digests([K3S_BIN])[K3S_BIN]
    if current and current["sha256"] == sha256 and current["mode"] == "755":
        host.noop(f"k3s binary {sha256[:12]} is installed")
        return
    changing([K3S_BIN])
    yield StringCommand("mkdir", "-p", os.path.dirname(K3S_BIN))
    yield from fetch_commands(sha256)
