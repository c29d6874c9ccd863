"""State of a k3s systemd unit: its files on disk and what systemd has loaded, in one command."""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase

from facts.file_digests import FileDigest, digest_script, parse_digest_lines
from facts.sections import split_sections
from facts.systemctl_show import ExecStartPre, exec_start_pre, first, systemctl_show

SYSTEMCTL_MARKER = "--- systemctl show"
SHOW_PROPERTIES = "LoadState,ActiveState,SubState,UnitFileState,FragmentPath,DropInPaths,ExecStartPre"


class K3sUnitState(TypedDict):
    """Digests of the unit's managed files and the unit's loaded properties."""

    files: dict[str, FileDigest | None]
    load_state: str
    active_state: str
    sub_state: str
    unit_file_state: str
    fragment_path: str
    drop_in_paths: list[str]
    exec_start_pre: list[ExecStartPre]


class K3sUnit(FactBase[K3sUnitState]):
    """
    Digests of ``paths`` plus ``systemctl show`` of ``unit`` (effective ``ExecStartPre`` included).

    .. code:: python

        host.get_fact(K3sUnit, unit="k3s-agent.service",
                      paths=["/etc/systemd/system/k3s-agent.service"])
        {"files": {"/etc/systemd/system/k3s-agent.service": {"mode": "644", "sha256": "..."}},
         "load_state": "loaded", "active_state": "active", "sub_state": "running",
         "unit_file_state": "enabled", "fragment_path": "/etc/systemd/system/k3s-agent.service",
         "drop_in_paths": [],
         "exec_start_pre": [{"argv": "/bin/bash -c rm -f /dev/kmsg && ln -sf /dev/console /dev/kmsg",
                             "ignore_errors": True}]}
    """

    def command(self, unit: str, paths: list[str]) -> str:
        return (
            f"{digest_script(paths)}; echo {shlex.quote(SYSTEMCTL_MARKER)}; "
            f"systemctl show -p {SHOW_PROPERTIES} {shlex.quote(unit)}"
        )

    def process(self, output: list[str]) -> K3sUnitState:
        sections = split_sections(output, SYSTEMCTL_MARKER)
        properties = systemctl_show(sections.get(SYSTEMCTL_MARKER, []))
        return K3sUnitState(
            files=parse_digest_lines(sections[""]),
            load_state=first(properties, "LoadState"),
            active_state=first(properties, "ActiveState"),
            sub_state=first(properties, "SubState"),
            unit_file_state=first(properties, "UnitFileState"),
            fragment_path=first(properties, "FragmentPath"),
            drop_in_paths=first(properties, "DropInPaths").split(),
            exec_start_pre=exec_start_pre(properties),
        )
