"""The sha256 of the token password a k3s server's cluster was bootstrapped with, read on the host
from ``/var/lib/rancher/k3s/server/token`` (``K10<ca hash>::server:<password>``); the token itself
never leaves the host."""

from __future__ import annotations

from pyinfra.api import FactBase

SERVER_TOKEN = "/var/lib/rancher/k3s/server/token"


class BootstrappedTokenDigest(FactBase["str | None"]):
    """
    sha256 (hex) of the password part of the server's token file; ``None`` when there is none yet
    (a server that never started).

    .. code:: python

        host.get_fact(BootstrappedTokenDigest)
        "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    """

    def command(self) -> str:
        return (f"if [ -s {SERVER_TOKEN} ]; then sed -e 's/^K10[^:]*::[^:]*://' {SERVER_TOKEN} | tr -d '\\n' "
                "| sha256sum | cut -d' ' -f1; else echo none; fi")

    def process(self, output: list[str]) -> str | None:
        digest = output[0].strip() if output else "none"
        return None if digest == "none" else digest
