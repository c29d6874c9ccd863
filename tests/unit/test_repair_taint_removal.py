"""Repair's taint removal: it waits for the node lifecycle controller first, then patches what is left."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tasks.repair.actions import remove_stale_taints

UNREACHABLE = [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]


@dataclass
class Output:
    stdout: str
    stderr: str = ""
    stdout_lines: list[str] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)


class Control:
    """A control node whose ``kubectl get node`` answers the given taint lists in turn."""

    def __init__(self, *taints: list[dict[str, Any]] | None) -> None:
        self.answers = list(taints)
        self.patches: list[str] = []

    def run_shell_command(self, command: Any, _timeout: int) -> tuple[bool, Output]:
        text = str(command)
        if " patch node " in text:
            self.patches.append(text)
            return True, Output("")
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer is not None, Output(json.dumps({"spec": {"taints": answer}}))


def test_taints_the_controller_lifts_are_not_patched() -> None:
    control = Control(UNREACHABLE, [])
    assert (remove_stale_taints(control, "k3s-worker-1", grace=5), control.patches) == \
        ((True, "no stale taints left"), [])


def test_taints_left_after_the_grace_are_patched() -> None:
    control = Control(UNREACHABLE)
    assert (remove_stale_taints(control, "k3s-worker-1", grace=0), len(control.patches)) == \
        ((True, "stale taints removed"), 1)


def test_unreadable_taints_are_not_patched() -> None:
    control = Control(None)
    assert (remove_stale_taints(control, "k3s-worker-1", grace=5), control.patches) == \
        ((False, "cannot read the node's taints"), [])
