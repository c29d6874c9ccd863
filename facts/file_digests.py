"""Mode and sha256 of a set of files, read in one command; and, for the deploy, one such read per
host for every file it manages there.

The shell snippet and its parser are shared by the facts that need file state next to other state
(units, watcher), so every concern costs one round trip.

pyinfra 3 keeps no fact cache (``host.get_fact`` runs its command every time), and it runs an
operation's body only when the operation executes, one operation after another. So the operations
that manage files note their paths when they are defined (:func:`managing`), and the first
:func:`file_digests` on a host reads every noted path at once; later calls answer from that read.
A path leaves the memo when an operation yields a write to it (:func:`changing`), so a file an
earlier operation of the run changed is read afresh. Every write of a managed file is yielded by an
operation of this deploy, which says so: that is what keeps the memo true.

Example:

    k3s_config = managing(lambda files, **_: [desired.path for desired in files])(k3s_config)
    file_digests(["/etc/rancher/k3s/config.yaml"])   # first use: every managed path in one command
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypedDict, TypeVar
from weakref import WeakKeyDictionary

from pyinfra.api import FactBase
from pyinfra.context import ctx_host

P = ParamSpec("P")
R = TypeVar("R")


class FileDigest(TypedDict):
    """Octal permission bits (``"600"``) and sha256 hex digest of a regular file."""

    mode: str
    sha256: str


def digest_script(paths: list[str]) -> str:
    """Shell that prints ``<mode> <sha256>  <path>`` per file, ``absent - <path>`` when missing."""
    quoted = " ".join(shlex.quote(path) for path in paths)
    return (
        f"for p in {quoted}; do "
        'if [ -f "$p" ]; then printf "%s " "$(stat -c %a "$p")"; sha256sum "$p"; '
        'else echo "absent - $p"; fi; done'
    )


def parse_digest_lines(lines: list[str]) -> dict[str, FileDigest | None]:
    """Parse ``digest_script`` output into ``{path: FileDigest or None}``."""
    digests: dict[str, FileDigest | None] = {}
    for line in lines:
        mode, sha256, path = line.split(None, 2)
        digests[path] = None if mode == "absent" else FileDigest(mode=mode, sha256=sha256)
    return digests


class FileDigests(FactBase[dict[str, "FileDigest | None"]]):
    """
    Mode and sha256 of each path; ``None`` for a path that is not a regular file.

    .. code:: python

        host.get_fact(FileDigests, paths=["/usr/local/bin/k3s"])
        {"/usr/local/bin/k3s": {"mode": "755", "sha256": "9f86d08..."}}
    """

    default = dict

    def command(self, paths: list[str]) -> str:
        return digest_script(paths)

    def process(self, output: list[str]) -> dict[str, FileDigest | None]:
        return parse_digest_lines(output)


# Keyed by the Host object itself (pyinfra's ``host`` is a proxy to the current one): each run has
# its own hosts, so nothing outlives the run.
_MANAGED: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()
_READ: WeakKeyDictionary[Any, dict[str, FileDigest | None]] = WeakKeyDictionary()


def manage(paths: Iterable[str]) -> None:
    """Note that the current host's deploy manages ``paths``, for the first read there."""
    _MANAGED.setdefault(ctx_host.get(), set()).update(paths)


def managing(paths_of: Callable[..., Iterable[str]]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap an operation so that defining it for a host notes the paths its body reads
    (``paths_of`` gets the operation's arguments).

    Example:
        @managing(lambda path, **_: [path])
        @operation()
        def manifest_absent(path: str): ...
    """
    def wrap(operation: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(operation)
        def defined(*args: P.args, **kwargs: P.kwargs) -> R:
            manage(paths_of(*args, **kwargs))
            return operation(*args, **kwargs)
        return defined
    return wrap


def file_digests(paths: list[str]) -> dict[str, FileDigest | None]:
    """The current host's digests of ``paths``: on the first need every managed path not yet read
    is read in one ``FileDigests``; afterwards from that answer, until :func:`changing` drops a path.

    Example:
        file_digests(["/usr/local/bin/k3s"])   # {"/usr/local/bin/k3s": {"mode": "755", "sha256": "..."}}
    """
    target = ctx_host.get()
    known = _READ.setdefault(target, {})
    if any(path not in known for path in paths):
        asked = sorted((set(paths) | _MANAGED.get(target, set())) - known.keys())
        known.update(target.get_fact(FileDigests, paths=asked))
    return {path: known.get(path) for path in paths}


def changing(paths: Iterable[str]) -> None:
    """Forget what was read of ``paths`` on the current host: an operation is about to write them.
    Call it where the write is yielded, so the next :func:`file_digests` reads them afresh."""
    known = _READ.get(ctx_host.get(), {})
    for path in paths:
        known.pop(path, None)
