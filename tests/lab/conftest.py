"""Fixtures for end-to-end tests on the LXC lab (`make lab-up` first; `make test` does it); the
helpers they and the tests use are in tests/lab/helpers.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.lab.helpers import LAB, run_pyinfra


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/lab/" in str(item.fspath):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab_inventory_ssh() -> Path:
    path = LAB / "inventory-ssh.yml"
    assert path.exists(), "the lab is not up: run `make lab-up`"
    return path


@pytest.fixture(scope="session")
def lab_inventory_pct(lab_inventory_ssh: Path) -> Path:
    return LAB / "inventory-pct.yml"


@pytest.fixture(scope="session")
def deployed_ssh(lab_inventory_ssh: Path) -> subprocess.CompletedProcess:
    """The lab deployed over SSH once per session (later tests start from that cluster)."""
    result = run_pyinfra(lab_inventory_ssh, "deploy.py")
    assert result.returncode == 0, result.stdout[-3000:]
    return result
