"""pct hosts for the connector's unit tests: their node is this machine (pyinfra's local connector),
and either every node process is recorded with a scripted reply, or a fake ``pct`` runs for real."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyinfra.connectors.local
import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.host import Host
from pyinfra.connectors.util import CommandOutput, OutputLine

Reply = Callable[[str], tuple[int, str, str]]

# A pct whose container is this machine. PCT_PUSH_FAILS / PCT_PULL_FAILS fail the copy as the real
# pct does (exit 0, the reason on stderr, pull leaves an empty file); PCT_PUSH_CORRUPTS alters it.
FAKE_PCT = r"""#!/bin/sh
subcommand=$1; shift 2
case $subcommand in
  status) echo "status: running" ;;
  exec) shift; exec "$@" ;;
  push)
    if [ -n "$PCT_PUSH_FAILS" ]; then echo "failed to create file: $2: Read-only file system" >&2; exit 0; fi
    if [ -n "$PCT_PUSH_CORRUPTS" ]; then echo garbage > "$2"; else cp "$1" "$2"; fi ;;
  pull)
    : > "$2"
    if [ -n "$PCT_PULL_FAILS" ]; then echo "failed to open $1: No such file or directory" >&2; exit 0; fi
    cat "$1" > "$2" ;;
esac
"""


def pct_hosts(*hosts: tuple[str, dict[str, Any]], config: Config | None = None) -> list[Host]:
    """Hosts of one inventory and state, in the order given."""
    inventory = Inventory((list(hosts), {}))
    State(inventory, config or Config())
    return [inventory.get_host(name) for name, _ in hosts]


def fake_pct(tmp_path: Path) -> Path:
    """Write :data:`FAKE_PCT` into ``tmp_path`` and return its path."""
    path = tmp_path / "pct"
    path.write_text(FAKE_PCT)
    path.chmod(0o755)
    return path


def record_node(monkeypatch: pytest.MonkeyPatch, reply: Reply) -> list[str]:
    """Record every command the node runs instead of running it; ``reply`` gives each one's
    (exit code, stdout, stderr)."""
    commands: list[str] = []

    def run_local_process(command: str, **_: Any) -> tuple[int, CommandOutput]:
        commands.append(command)
        code, stdout, stderr = reply(command)
        lines = [OutputLine("stdout", line) for line in stdout.splitlines()]
        lines += [OutputLine("stderr", line) for line in stderr.splitlines()]
        return code, CommandOutput(lines)

    monkeypatch.setattr(pyinfra.connectors.local, "run_local_process", run_local_process)
    return commands


def node_words(command: str) -> list[str]:
    """The words of a recorded node command, after the ``sh -c`` pyinfra wraps it in."""
    words = shlex.split(command)
    inner = words.index("-c") + 1
    return words[:inner - 2] + shlex.split(words[inner])
