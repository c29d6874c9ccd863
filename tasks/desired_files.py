"""Files the deploy keeps in place: each one's full content and mode, replaced only when they differ.

A new content is uploaded from memory (never on a command line, never in pyinfra's diff output) to
``.<name>.new`` beside the live file, optionally checked there (``haproxy -c -f``), given its mode and
renamed over the live file: a reader never sees half a file, and a content the check rejects never
goes live. A secret file's staged copy is created empty with its final mode before any content
lands in it, in a directory created 0700 when missing.

Example:

    config = text_file("/etc/haproxy/haproxy.cfg", rendered, check=("haproxy", "-c", "-f"))
    yield from desired_files([config], "haproxy.cfg is up to date")
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyinfra import host
from pyinfra.api import FileUploadCommand, StringCommand
from pyinfra.api.command import QuoteString

from facts.file_digests import FileDigest
from facts.managed_state import changing, file_digests


@dataclass(frozen=True)
class DesiredFile:
    """A file's full content and octal mode (``None``: the filesystem's own, as on Proxmox's
    ``/etc/pve``, which has no chmod); ``check`` must accept the staged copy (its path appended)."""

    path: str
    content: bytes = field(repr=False)
    mode: str | None = "644"
    secret: bool = False
    check: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def staged(self) -> str:
        """Beside the live file, so the rename is atomic; hidden and ending ``.new``, a name that
        k3s's manifest directory, systemd and Proxmox's confs skip."""
        directory, name = posixpath.split(self.path)
        return posixpath.join(directory, f".{name}.new")


def text_file(path: str, content: str, mode: str | None = "644", secret: bool = False,
              check: tuple[str, ...] = ()) -> DesiredFile:
    """A :class:`DesiredFile` from text.

    Example:
        text_file("/etc/rancher/k3s/token", token + "\\n", mode="600", secret=True)
    """
    return DesiredFile(path=path, content=content.encode(), mode=mode, secret=secret, check=check)


def replaced(desired: DesiredFile) -> Iterator[Any]:
    """Commands that put ``desired`` in place whatever is there now."""
    changing([desired.path])
    staged = QuoteString(desired.staged)
    directory = QuoteString(posixpath.dirname(desired.path))
    if desired.secret and desired.mode is not None:
        yield StringCommand("umask", "077", "&&", "mkdir", "-p", directory,
                            "&&", "install", "-m", desired.mode, "/dev/null", staged)
    else:
        yield StringCommand("mkdir", "-p", directory)
    yield FileUploadCommand(io.BytesIO(desired.content), desired.staged,
                            remote_temp_filename=host.get_temp_filename(desired.staged))
    check = [*desired.check, staged, "&&"] if desired.check else []
    mode = ["chmod", desired.mode, staged, "&&"] if desired.mode is not None else []
    yield StringCommand(*check, *mode, "mv", "-f", staged, QuoteString(desired.path))


def file_commands(files: list[DesiredFile], present: dict[str, FileDigest | None]) -> Iterator[Any]:
    """Commands that bring ``files`` from ``present`` (``FileDigests``) to their content and mode.

    Example:
        list(file_commands([text_file("/etc/motd", "hi\\n")], {"/etc/motd": None}))  # mkdir, upload, mv
    """
    for desired in files:
        current = present.get(desired.path)
        if current is None or current["sha256"] != desired.sha256:
            yield from replaced(desired)
        elif desired.mode is not None and current["mode"] != desired.mode:
            changing([desired.path])
            yield StringCommand("chmod", desired.mode, QuoteString(desired.path))


def desired_files(files: list[DesiredFile], in_place: str) -> Iterator[Any]:
    """An operation's body: read the files' digests (``facts.managed_state``: with everything
    managed on the host, once per run), then bring them in place; ``in_place`` is the no-op message.
    The operation notes its paths with ``facts.managed_state.managing``.

    Example:
        yield from desired_files(config_files(), "k3s config and token file are in place")
    """
    present = file_digests([desired.path for desired in files])
    commands = list(file_commands(files, present))
    if not commands:
        host.noop(in_place)
    yield from commands
