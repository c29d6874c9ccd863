"""State of ``/dev/kmsg``, which LXC drops on every container start and the kubelet opens first."""

from __future__ import annotations

from typing import TypedDict

from pyinfra.api import FactBase


class KmsgState(TypedDict):
    """``kind`` is ``missing``, ``link``, ``char`` or ``other``; ``target`` is set for a link."""

    kind: str
    target: str


class Kmsg(FactBase[KmsgState]):
    """
    What ``/dev/kmsg`` is: missing, a symlink (and to where), a character device, or other.

    .. code:: python

        host.get_fact(Kmsg)
        {"kind": "link", "target": "/dev/console"}
    """

    def command(self) -> str:
        return (
            "if [ -L /dev/kmsg ]; then echo \"link $(readlink /dev/kmsg)\"; "
            "elif [ -c /dev/kmsg ]; then echo char; "
            "elif [ -e /dev/kmsg ]; then echo other; "
            "else echo missing; fi"
        )

    def process(self, output: list[str]) -> KmsgState:
        kind, _, target = output[0].partition(" ")
        return KmsgState(kind=kind, target=target)
