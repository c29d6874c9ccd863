"""pyinfra operations of the deploy, one concern per module, plus the helpers they share:
rendering templates, waiting with a deadline, and keeping files in place."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import posixpath
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from pyinfra import host, logger
from pyinfra.api import FileUploadCommand, StringCommand, operation

from facts.file_digests import FileDigest
from tasks.settings import SETTINGS, one_of
from tasks.settings import data_error as data_error

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_jinja = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


# Kept for tasks/restart.py and tasks/k3s_ready.py (another change rewrites them), which import
# these two from here: new code reads host data through tasks.settings.
def choice(key: str, allowed: tuple[str, ...], default: str) -> str:
    """``settings.one_of(key)``; ``allowed`` and ``default`` must be the table's."""
    setting = SETTINGS[key]
    assert (allowed, default) == (setting.choices, setting.default), f"{key}: see tasks/settings.py"
    return one_of(key)


@operation()
def all_hosts_reach(point: str) -> Iterator[Any]:
    """
    An ordering point: call it on every host from the same line, and no host starts what follows
    before every host has done what precedes. pyinfra orders operations as a graph of each host's
    own sequence, so a host with nothing in common with the others would otherwise run ahead
    (HAProxy waiting for Rancher before k3s is even installed).

    + point: what has been reached, for the log

    **Example:**

    .. code:: python

        all_hosts_reach(name="Cluster and Rancher up", point="cluster and Rancher up")
    """
    host.noop(f"reached: {point}")
    yield from ()


def poll_until(problem: Callable[[], str], timeout: float, interval: float) -> str:
    """Call ``problem()`` (empty when all is well) until it is empty or ``timeout`` passes, and
    return its last answer. Not a fixed sleep: it returns as soon as all is well.

    Example:
        left = poll_until(lambda: "tainted" if tainted() else "", 20, 2)
    """
    deadline = time.monotonic() + timeout
    while True:
        found = problem()
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(interval)


def wait_until(target: Any, problem: Callable[[], str], timeout: float, interval: float, what: str) -> bool:
    """:func:`poll_until`, then, when the problem stays, one line on ``target``:
    ``<what> after <timeout>s: <problem>``.

    Example:
        wait_until(host, lambda: "" if up() else "still down", 60, 1, "haproxy: servers not UP")
    """
    found = poll_until(problem, timeout, interval)
    if found:
        target.log_styled(f"{what} after {timeout:g}s: {found}", fg="red", log_func=logger.error)
    return not found


def render(template: str, **variables: Any) -> str:
    """Render ``templates/<template>``; a missing variable is an error, not an empty string."""
    return _jinja.get_template(template).render(**variables)


@dataclass(frozen=True)
class DesiredFile:
    """A file's full content and octal mode; ``secret`` files get their mode before their content."""

    path: str
    content: bytes = field(repr=False)
    mode: str
    secret: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def text_file(path: str, content: str, mode: str = "644", secret: bool = False) -> DesiredFile:
    return DesiredFile(path=path, content=content.encode(), mode=mode, secret=secret)


def file_commands(files: list[DesiredFile], present: dict[str, FileDigest | None]) -> Iterator[Any]:
    """Commands that bring ``files`` from ``present`` to the desired content and mode.

    Content is uploaded from memory, so it never appears on a command line or in pyinfra's diff
    output; a secret file is created empty with its final mode first, so its content never lands
    in a file others can read.
    """
    for desired in files:
        current = present.get(desired.path)
        if current and current["sha256"] == desired.sha256:
            if current["mode"] != desired.mode:
                yield StringCommand("chmod", desired.mode, desired.path)
            continue
        prepare = ["mkdir", "-p", posixpath.dirname(desired.path)]
        if desired.secret:
            prepare += ["&&", "touch", desired.path, "&&", "chmod", desired.mode, desired.path]
        yield StringCommand(*prepare)
        yield FileUploadCommand(
            io.BytesIO(desired.content),
            desired.path,
            remote_temp_filename=host.get_temp_filename(desired.path),
        )
        yield StringCommand("chmod", desired.mode, desired.path)


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
