"""Everything ``repair.py`` needs to say why a k3s node is down, read in one command on the node."""

from __future__ import annotations

import re
from typing import TypedDict

from pyinfra.api import FactBase

from facts.kmsg import Kmsg, KmsgState
from facts.names import K3S_UNITS
from facts.sections import split_sections
from facts.systemctl_show import ExecStartPre, exec_start_pre, first, systemctl_show

UNITS = tuple(K3S_UNITS.values())
JOURNAL_LINES = 20
KMSG_MARKER = "--- kmsg"
UNIT_MARKER = "--- unit "
JOURNAL_MARKER = "--- journal "
# k3s logs its own flags on start; a token passed as a flag must not reach the operator's screen.
SECRET_VALUE = re.compile(r"(?i)(token[\w-]*[=:]\s*)\S+")


class UnitState(TypedDict):
    load_state: str
    active_state: str
    sub_state: str
    result: str
    exec_start_pre: list[ExecStartPre]


class KmsgDiagnosis(KmsgState):
    """``usable``: ``/dev/kmsg`` resolves to a character device, as the kubelet needs."""

    usable: bool


class NodeDiagnosisState(TypedDict):
    kmsg: KmsgDiagnosis
    units: dict[str, UnitState]
    journal: dict[str, list[str]]


def redact(line: str) -> str:
    return SECRET_VALUE.sub(r"\1<redacted>", line)


class NodeDiagnosis(FactBase[NodeDiagnosisState]):
    """
    ``/dev/kmsg`` (kind, target, usable), ``systemctl show`` of ``k3s`` and ``k3s-agent`` and, for
    an installed unit that is not active, its last journal lines (token values redacted).

    .. code:: python

        host.get_fact(NodeDiagnosis)
        {"kmsg": {"kind": "missing", "target": "", "usable": False},
         "units": {"k3s-agent.service": {"load_state": "loaded", "active_state": "activating",
                                         "sub_state": "auto-restart", "result": "exit-code",
                                         "exec_start_pre": []},
                   "k3s.service": {"load_state": "not-found", ...}},
         "journal": {"k3s-agent.service": ["... open /dev/kmsg: no such file or directory"]}}
    """

    def command(self) -> str:
        units = " ".join(UNITS)
        return (
            f"echo '{KMSG_MARKER}'; {Kmsg().command()}; "
            "if [ -c /dev/kmsg ]; then echo usable; else echo unusable; fi; "
            f"for unit in {units}; do echo \"{UNIT_MARKER}$unit\"; "
            "systemctl show -p LoadState,ActiveState,SubState,Result,ExecStartPre \"$unit\"; done; "
            f"for unit in {units}; do "
            "if [ \"$(systemctl show -p LoadState --value \"$unit\")\" = loaded ] && ! systemctl is-active -q \"$unit\"; "
            f"then echo \"{JOURNAL_MARKER}$unit\"; journalctl -u \"$unit\" -n {JOURNAL_LINES} --no-pager 2>&1; fi; done"
        )

    def process(self, output: list[str]) -> NodeDiagnosisState:
        sections = split_sections(output, KMSG_MARKER, UNIT_MARKER, JOURNAL_MARKER)
        kmsg_lines = sections.get(KMSG_MARKER, ["missing", "unusable"])
        kmsg = Kmsg().process(kmsg_lines[:1])
        return NodeDiagnosisState(
            kmsg=KmsgDiagnosis(kind=kmsg["kind"], target=kmsg["target"], usable=kmsg_lines[-1] == "usable"),
            units={unit: unit_state(sections.get(f"{UNIT_MARKER}{unit}", [])) for unit in UNITS},
            journal={
                unit: [redact(line) for line in sections[f"{JOURNAL_MARKER}{unit}"]]
                for unit in UNITS
                if f"{JOURNAL_MARKER}{unit}" in sections
            },
        )


def unit_state(lines: list[str]) -> UnitState:
    """One unit's ``systemctl show`` lines; ``ExecStartPre`` may span several lines."""
    properties = systemctl_show(lines)
    return UnitState(
        load_state=first(properties, "LoadState"),
        active_state=first(properties, "ActiveState"),
        sub_state=first(properties, "SubState"),
        result=first(properties, "Result"),
        exec_start_pre=exec_start_pre(properties),
    )
