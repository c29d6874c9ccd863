"""The day-2 modules' order: last in the session, the upgrade first, as it deploys the cluster at the
previous release itself and leaves it at the inventory's, so host maintenance's session deploy after it
is a no-op (on `make test-day2`'s fresh lab: one full deploy for the directory instead of two)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIRST = "test_upgrade_lab.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The day-2 tests after every other test of the session (the other lab tests start from a fresh
    lab's first deploy, which their checks of the deploy's output read), the upgrade module's first,
    each module's own order kept (this hook gets the whole session's items, as every conftest's does).

    Example: [day2/host_maintenance::y, day2/upgrade::z, a::x] -> [a::x, day2/upgrade::z, day2/host_maintenance::y]."""
    here = Path(__file__).parent
    day2 = sorted((item for item in items if item.path.parent == here), key=lambda item: item.path.name != FIRST)
    items[:] = [item for item in items if item.path.parent != here] + day2
