"""A standard-library program file that runs on a host as ``python3 -c <its text> <arguments>``
(Proxmox's debian-12-standard template has python3, no curl): the one shell command line, built
where the project is (``verify/host_probe.py``, ``facts/kube_reads.py``). Those files must not import
the project at their top, as they run on the host; they import this only inside ``command()``.

Example:

    python3_command("/repo/verify/host_probe.py", "ping", "10.0.0.111", "443", "rancher.example.net")
"""

from __future__ import annotations

import shlex


def python3_command(path: str, *arguments: str) -> str:
    """``python3 -c <text of path> <arguments>``, every word quoted for the shell."""
    with open(path) as source:
        return " ".join(["python3", "-c", shlex.quote(source.read()), *(shlex.quote(a) for a in arguments)])
