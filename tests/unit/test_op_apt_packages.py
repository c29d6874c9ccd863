"""packages_installed: apt lists refreshed before anything is installed (a template's lists are stale),
nothing done when every package is there."""

from __future__ import annotations

from tasks.apt_packages import packages_installed
from tests.unit.operation_outputs import host_state, run


def test_missing_packages_are_installed_after_the_lists_are_refreshed():
    # dpkg-query lists no haproxy: not installed
    commands, _ = run(packages_installed, facts=host_state(packages={"python3": True}), packages=["haproxy", "python3"])
    assert commands == ["apt-get update -qq", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy"]


def test_installed_packages_are_a_noop_without_a_refresh():
    facts = host_state(packages={"haproxy": True, "python3": True})
    commands, host = run(packages_installed, facts=facts, packages=["haproxy", "python3"])
    assert (commands, host.noop_description) == ([], "haproxy, python3 installed")
