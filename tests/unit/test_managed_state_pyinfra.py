"""The one ManagedState read per host, run by pyinfra itself (its API, its local connector) on files in a
temporary directory: the first run writes, a second run of the same operations reads once and
changes nothing (which facts.cluster_reads sees in pyinfra's state), and a file one operation writes
is read afresh by a later one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.api.state import StateStage

from facts.read_ahead import run_changed_nothing
from facts.managed_state import ManagedState
from tasks.helm_chart import manifest_absent, manifest_present


@pytest.fixture
def fact_reads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each ManagedState read pyinfra runs, with what it asked."""
    reads: list[dict[str, Any]] = []
    command = ManagedState.command

    def recorded(self: ManagedState, paths: list[str], units: list[str], packages: list[str]) -> str:
        reads.append({"paths": paths, "units": units, "packages": packages})
        return command(self, paths, units, packages)

    monkeypatch.setattr(ManagedState, "command", recorded)
    return reads


def deploy(define: Any) -> State:
    """Define operations with ``define(state)`` and run them on this machine, as ``pyinfra -y`` does."""
    state = State(Inventory((["@local"], {})), Config(), check_for_changes=False)
    state.current_stage = StateStage.Connect
    connect_all(state)
    state.current_stage = StateStage.Prepare
    define(state)
    state.current_stage = StateStage.Execute
    run_ops(state)
    disconnect_all(state)
    return state


def changed(state: State) -> list[bool]:
    host = next(iter(state.inventory))
    return [data.operation_meta.did_change() for data in state.ops[host].values()]


def test_a_second_run_reads_once_and_changes_nothing(tmp_path: Path, fact_reads: list[dict[str, Any]]):
    first, second = str(tmp_path / "first.yaml"), str(tmp_path / "second.yaml")

    def define(state: State) -> None:
        add_op(state, manifest_present, name="first", path=first, content="a: 1\n")
        add_op(state, manifest_present, name="second", path=second, content="b: 2\n")

    state = deploy(define)
    assert (changed(state), run_changed_nothing(state)) == ([True, True], False)
    assert (Path(first).read_text(), oct(Path(second).stat().st_mode & 0o777)) == ("a: 1\n", "0o600")
    fact_reads.clear()
    state = deploy(define)
    assert (changed(state), run_changed_nothing(state)) == ([False, False], True)
    assert fact_reads == [{"paths": sorted([first, second]), "units": [], "packages": []}]


def test_a_file_written_earlier_in_the_run_is_read_afresh(tmp_path: Path, fact_reads: list[dict[str, Any]]):
    path = str(tmp_path / "manifest.yaml")

    def define(state: State) -> None:
        add_op(state, manifest_present, name="written", path=path, content="a: 1\n")
        # the same file, next: it must see the one just written, not the read from before
        add_op(state, manifest_present, name="again", path=path, content="a: 1\n")

    assert changed(deploy(define)) == [True, False]
    assert [read["paths"] for read in fact_reads] == [[path], [path]]


def test_a_removal_sees_the_file_an_earlier_operation_wrote(tmp_path: Path, fact_reads: list[dict[str, Any]]):
    path = str(tmp_path / "manifest.yaml")

    def define(state: State) -> None:
        add_op(state, manifest_present, name="written", path=path, content="a: 1\n")
        add_op(state, manifest_absent, name="then removed", path=path)

    # The removal deletes the manifest's objects with k3s kubectl first: that it fails here, on a
    # machine without k3s, shows it saw the file (from the memo it would have found it absent).
    with pytest.raises(PyinfraError, match="No hosts remaining"):
        deploy(define)
    assert [read["paths"] for read in fact_reads] == [[path], [path]]
