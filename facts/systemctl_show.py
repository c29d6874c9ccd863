"""``systemctl show`` output, as the unit facts read it.

Example:

    properties = systemctl_show(["LoadState=loaded", "ExecStartPre={ path=/bin/bash ; argv[]=/bin/bash -c true ; "
                                 "ignore_errors=yes ; ... }"])
    first(properties, "LoadState") == "loaded"
    exec_start_pre(properties) == [{"argv": "/bin/bash -c true", "ignore_errors": True}]
"""

from __future__ import annotations

import re
from typing import TypedDict

EXEC_ARGV = re.compile(r"argv\[\]=(?P<argv>.*?) ; ignore_errors=(?P<ignore>yes|no)")


class ExecStartPre(TypedDict):
    """One effective ``ExecStartPre`` line; ``ignore_errors`` is systemd's ``-`` prefix."""

    argv: str
    ignore_errors: bool


def systemctl_show(lines: list[str]) -> dict[str, list[str]]:
    """Each property's values in output order (``ExecStartPre`` and others repeat)."""
    properties: dict[str, list[str]] = {}
    for line in lines:
        key, separator, value = line.partition("=")
        if separator:
            properties.setdefault(key, []).append(value)
    return properties


def first(properties: dict[str, list[str]], key: str) -> str:
    """A single-valued property; empty when systemd did not print it."""
    return properties.get(key, [""])[0]


def exec_start_pre(properties: dict[str, list[str]]) -> list[ExecStartPre]:
    """The effective ``ExecStartPre`` commands, drop-ins included."""
    return [
        ExecStartPre(argv=match["argv"], ignore_errors=match["ignore"] == "yes")
        for value in properties.get("ExecStartPre", [])
        for match in EXEC_ARGV.finditer(value)
    ]
