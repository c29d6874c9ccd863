"""Mode and sha256 of a set of files, read in one command.

The shell snippet and its parser are shared by the facts that need file state next to other state
(``facts.managed_state``: a host's managed files, units and packages in one read). The deploy reads
its files through that; ``FileDigests`` is for a single read of a few paths (the rolling upgrade's).
"""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase


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
