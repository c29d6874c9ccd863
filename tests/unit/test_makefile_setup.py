"""`make setup` (what an operator runs on a Proxmox host) installs only the product's packages: Debian's
lxc conflicts with Proxmox's lxc-pve and would take the container stack away. The lab's targets add
theirs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def planned_apt_packages(target: str) -> set[str]:
    """The package names the target's recipe would check and install (``make -n -B``: nothing runs)."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    plan = subprocess.run(["make", "-n", "-B", target], cwd=REPO, capture_output=True, text=True, check=True).stdout
    words: set[str] = set()
    for line in plan.splitlines():
        if "dpkg-query" in line:
            words |= set(line.split("for p in ", 1)[1].split(";", 1)[0].split())
    return words


def test_setup_installs_no_lxc():
    packages = planned_apt_packages("setup")
    assert ("python3-venv" in packages, "lxc" in packages) == (True, False), packages


def test_lab_setup_adds_lxc_and_debootstrap():
    assert {"lxc", "debootstrap"} <= planned_apt_packages("lab-setup")
