"""What ``pct push``/``pct pull`` delivered, checked by sha256: both exit 0 when the copy fails.

Upstream: proxmox/pve-container src/PVE/CLI/pct.pm runs the copies in ``fork_worker`` tasks and its
``push``/``pull`` cmddef entries have no ``$upid_exit``, so a failed copy leaves exit status 0 and
its reason on stderr (proxmox/pve-common src/PVE/RESTEnvironment.pm ``$tee_worker``); ``pull``
creates the destination before it opens the source, so a failed pull leaves an empty file.

Example:

    run(install_command("/tmp/pyinfra-1", "/etc/x", hashlib.sha256(content).hexdigest()))
"""

from __future__ import annotations

import re

from pyinfra.api import QuoteString, StringCommand
from pyinfra.connectors.util import CommandOutput

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_of(output: CommandOutput) -> str | None:
    """The digest ``sha256sum`` printed, or None when it printed none.

    Example:
        sha256_of(output)  # "<hex>  /etc/x" -> "<hex>"; a name with a newline prints "\\<hex>  ..."
    """
    words = output.stdout.split()
    digest = words[0].lstrip("\\") if words else ""
    return digest if SHA256.match(digest) else None


def digest_command(path: str) -> StringCommand:
    """``sha256sum -- <path>``: the container file's digest; it fails naming the path and why."""
    return StringCommand("sha256sum", "--", QuoteString(path))


def install_command(temp: str, destination: str, digest: str) -> StringCommand:
    """One container command that checks ``temp`` hashes to ``digest``, then copies it over
    ``destination`` (``cat``: an existing file keeps its mode and owner) and removes it.

    Example:
        install_command("/tmp/pyinfra-1", "/etc/k3s.yaml", hashlib.sha256(b"x").hexdigest())
    """
    temp_word, destination_word = QuoteString(temp), QuoteString(destination)
    mismatch = QuoteString(f"pct push did not deliver {temp} intact")
    return StringCommand(
        "[", StringCommand('"$(sha256sum', "<", temp_word, ')"'), "=", QuoteString(f"{digest}  -"), "]",
        "||", "{", "echo", mismatch, ">&2", ";", "rm", "-f", temp_word, ";", "exit", "1", ";", "}", ";",
        "cat", temp_word, ">", destination_word, ";", "status=$?", ";",
        "rm", "-f", temp_word, ";", "exit", "$status",
    )
