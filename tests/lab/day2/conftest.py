"""The day-2 modules' order: the upgrade first, as it deploys the cluster at the previous release
itself and leaves it at the inventory's, so host maintenance's session deploy after it is a no-op
(one full deploy for the directory instead of two: a fresh lab's first deploy is the longest step)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIRST = "test_upgrade_lab.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The upgrade module's tests before the other day-2 modules', in the day-2 tests' own slots (this
    hook gets the whole session's items, as every conftest's does), each module's own order kept.

    Example: [a::x, day2/host_maintenance::y, day2/upgrade::z] -> [a::x, day2/upgrade::z, day2/host_maintenance::y]."""
    here = Path(__file__).parent
    slots = [index for index, item in enumerate(items) if item.path.parent == here]
    ordered = sorted((items[index] for index in slots), key=lambda item: item.path.name != FIRST)
    for index, item in zip(slots, ordered):
        items[index] = item
