"""Fixtures shared by every test suite: where the repository and the lab's files are."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The lab's modules import each other by name, as lab/lab.py runs them.
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(REPO))



@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under pytest-xdist (`make test` runs `-n 3`): every lab test in one scope, as they share one
    lab and run in file order; every other module a scope of its own, as a module's tests share its
    fixtures (a stand-in cluster) and may rely on file order. One worker runs the lab's tests while the
    others run the stand-in and unit modules. (xdist's own `--dist loadgroup` marks do not reach
    pytest 9's test ids, so the scopes are drawn here.)"""
    from xdist.scheduler import LoadScopeScheduling

    class LabInOneScope(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "lab" if nodeid.startswith("tests/lab/") else nodeid.split("::", 1)[0]

    return LabInOneScope(config, log)
