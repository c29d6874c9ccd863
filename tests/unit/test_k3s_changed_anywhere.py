"""deploy.py restarts and verifies after a run in which a k3s host's binary, config or unit changed:
found by the operations' own results, not by their names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.command import StringCommand
from pyinfra.api.operation import OperationMeta
from pyinfra.connectors.util import CommandOutput
from pyinfra.context import ctx_inventory, ctx_state

from tasks.k3s_units import K3S_INPUT_OPERATIONS, k3s_changed_anywhere


def executed(commands: int) -> OperationMeta:
    meta = OperationMeta(hash="op", is_change=None)
    meta.set_complete(True, [StringCommand("true")] * commands, CommandOutput([]))
    return meta


@pytest.fixture
def cluster() -> Iterator[None]:
    pyinfra_inventory = Inventory(([("k3s-control", {}), ("k3s-worker-1", {})], {}))
    state = State(pyinfra_inventory, Config())
    state.activated_hosts = set(pyinfra_inventory)
    with ctx_state.use(state), ctx_inventory.use(pyinfra_inventory):
        yield
    K3S_INPUT_OPERATIONS.clear()


def test_a_changed_operation_on_one_host_counts(cluster) -> None:
    K3S_INPUT_OPERATIONS.update({"k3s-control": [executed(0)], "k3s-worker-1": [executed(2)]})
    assert k3s_changed_anywhere() is True


def test_operations_without_commands_are_no_change(cluster) -> None:
    K3S_INPUT_OPERATIONS.update({"k3s-control": [executed(0)], "k3s-worker-1": [executed(0)]})
    assert k3s_changed_anywhere() is False


def test_operations_not_yet_executed_are_no_change(cluster) -> None:
    K3S_INPUT_OPERATIONS.update({"k3s-control": [OperationMeta(hash="op", is_change=None)]})
    assert k3s_changed_anywhere() is False
