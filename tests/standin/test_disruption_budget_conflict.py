"""The disruption controller never overwrites a budget that changed after it read it: an eviction's
decrement between the controller's read and its write stays (kubectl drain evicts a node's pods in
parallel; with the count from before the first eviction written back, the second one went through
and both of a two-pod budget's pods were gone at once on the lab)."""

from __future__ import annotations

import copy
from typing import Any

from k3s_standin.controllers.disruption_budget import DisruptionBudgets

Obj = dict[str, Any]


class Store:
    """What DisruptionBudgets.write needs of the client: mutate over one stored object."""

    def __init__(self, obj: Obj) -> None:
        self.obj = obj

    def mutate(self, url: str, change: Any) -> Obj | None:
        fresh = copy.deepcopy(self.obj)
        if change(fresh):
            self.obj = fresh
        return self.obj


def budget(resource_version: str, allowed: int) -> Obj:
    return {"metadata": {"namespace": "default", "name": "guarded", "resourceVersion": resource_version},
            "status": {"disruptionsAllowed": allowed}}


def test_a_status_from_before_an_eviction_is_not_written_over_it() -> None:
    read = budget("7", 1)
    store = Store(budget("8", 0))   # the eviction decremented it after the controller's read
    DisruptionBudgets(store).write(read, {"disruptionsAllowed": 1})  # type: ignore[arg-type]
    assert store.obj["status"] == {"disruptionsAllowed": 0}


def test_an_unchanged_budget_gets_the_new_status() -> None:
    store = Store(budget("7", 0))
    DisruptionBudgets(store).write(budget("7", 0), {"disruptionsAllowed": 1})  # type: ignore[arg-type]
    assert store.obj["status"] == {"disruptionsAllowed": 1}
