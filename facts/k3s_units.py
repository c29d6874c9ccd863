"""State of a k3s systemd unit: its files on disk and what systemd has loaded, from the host's one
read of what the deploy manages (``facts.managed_state``)."""

from __future__ import annotations

from typing import TypedDict

from facts.file_digests import FileDigest
from facts.systemctl_show import ExecStartPre, exec_start_pre, first


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


def k3s_unit_state(files: dict[str, FileDigest | None], properties: dict[str, list[str]]) -> K3sUnitState:
    """
    The unit's files and its ``systemctl show`` properties (effective ``ExecStartPre`` included).

    .. code:: python

        k3s_unit_state({"/etc/systemd/system/k3s-agent.service": {"mode": "644", "sha256": "..."}},
                       systemctl_show(["LoadState=loaded", "ActiveState=active", ...]))
        {"files": {"/etc/systemd/system/k3s-agent.service": {"mode": "644", "sha256": "..."}},
         "load_state": "loaded", "active_state": "active", "sub_state": "running",
         "unit_file_state": "enabled", "fragment_path": "/etc/systemd/system/k3s-agent.service",
         "drop_in_paths": [],
         "exec_start_pre": [{"argv": "/bin/bash -c rm -f /dev/kmsg && ln -sf /dev/console /dev/kmsg",
                             "ignore_errors": True}]}
    """
    return K3sUnitState(
        files=files,
        load_state=first(properties, "LoadState"),
        active_state=first(properties, "ActiveState"),
        sub_state=first(properties, "SubState"),
        unit_file_state=first(properties, "UnitFileState"),
        fragment_path=first(properties, "FragmentPath"),
        drop_in_paths=first(properties, "DropInPaths").split(),
        exec_start_pre=exec_start_pre(properties),
    )
