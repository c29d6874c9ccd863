"""packages_installed: apt lists refreshed before anything is installed (a template's lists are stale),
nothing done when every package is there."""

from __future__ import annotations

from tasks.apt_packages import packages_installed
from tests.unit.operation_outputs import run


def test_missing_packages_are_installed_after_the_lists_are_refreshed():
    commands, _ = run(packages_installed, facts={"DebPackages": {"python3": ["3.11.2-1"]}}, packages=["haproxy", "python3"])
    assert commands == ["apt-get update -qq", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy"]


def test_installed_packages_are_a_noop_without_a_refresh():
    facts = {"DebPackages": {"haproxy": ["2.6.12-1"], "python3": ["3.11.2-1"]}}
    commands, host = run(packages_installed, facts=facts, packages=["haproxy", "python3"])
    assert (commands, host.noop_description) == ([], "haproxy, python3 installed")
