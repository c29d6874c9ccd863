"""Fixtures shared by every test suite: where the repository and the lab's files are."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The lab's modules import each other by name, as lab/lab.py runs them.
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(REPO))
