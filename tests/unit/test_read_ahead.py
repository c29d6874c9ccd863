"""facts.read_ahead: every host's noted reads at the run's first read (hosts in parallel, one read at a
time on each), each taken once and only while the run has changed nothing; HAProxy's server status
as servers_up takes it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pyinfra.api import facts as pyinfra_facts
from pyinfra.context import ctx_host

from facts.haproxy import HaproxyServerStats
from facts.read_ahead import first_read, note_ahead, taken
from tasks.haproxy import STATS_AHEAD, servers_up
from tests.unit.operation_outputs import FakeHost, shown

UP = {"backend_rancher": {"k3s-control": {"status": "UP", "check_status": "L7OK", "addr": "10.0.0.1:443"}}}
DOWN = {"backend_rancher": {"k3s-control": {"status": "DOWN", "check_status": "L4CON", "addr": "10.0.0.1:443"}}}
EXPECTED = {"backend_rancher": {"k3s-control": "10.0.0.1:443"}}


class Fact:
    """A fact class for the notes (only its name is asked)."""


class AskedHost(FakeHost):
    """Answers every fact from ``answers`` by class name and records what it was asked."""

    def __init__(self, name: str, answers: dict[str, Any]) -> None:
        super().__init__({}, {"node_name": name})
        self.name, self.answers, self.asked = name, answers, []

    def get_fact(self, fact: type, **arguments: Any) -> Any:
        self.asked.append((fact.__name__, arguments))
        return self.answers[fact.__name__]


@pytest.fixture(autouse=True)
def pyinfra_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyinfra's own fact reader asks the stand-in hosts."""
    monkeypatch.setattr(pyinfra_facts, "get_fact",
                        lambda state, host, cls, kwargs=None, **_: host.get_fact(cls, **(kwargs or {})))


def one_run(*hosts: AskedHost) -> None:
    for host in hosts[1:]:
        host.state = hosts[0].state
    hosts[0].state.inventory = SimpleNamespace(get_active_hosts=lambda: list(hosts))


def test_the_first_read_reads_every_other_noted_read_once():
    first, other = AskedHost("haproxy", {"Fact": 1}), AskedHost("k3s-control", {"Fact": 2})
    one_run(first, other)
    for host in (first, other):
        with ctx_host.use(host):
            note_ahead("own", Fact, lambda: {"x": 1})
            note_ahead("more", Fact, lambda: {"y": 2})
    assert first_read(first, "own", lambda: "own answer") == "own answer"
    # the first host's own read is the caller's; its other one after it, never at the same time
    assert (first.asked, other.asked) == ([("Fact", {"y": 2})], [("Fact", {"x": 1}), ("Fact", {"y": 2})])
    assert first_read(other, "own", lambda: "later") == "later"
    assert len(other.asked) == 2
    assert (taken(other, "own"), taken(other, "own")) == (2, None)


def test_after_a_change_in_the_run_nothing_read_ahead_is_taken():
    first, other = AskedHost("haproxy", {}), AskedHost("k3s-control", {"Fact": 2})
    one_run(first, other)
    with ctx_host.use(other):
        note_ahead("own", Fact, dict)
    first_read(first, "own", dict)
    first.state.ops[first] = {"op": SimpleNamespace(operation_meta=SimpleNamespace(is_complete=lambda: True,
                                                                                    did_change=lambda: True))}
    assert taken(other, "own") is None


def servers_checked(host: AskedHost) -> list[Any]:
    with ctx_host.use(host):
        return [shown(command) for command in servers_up._inner(expected=EXPECTED, timeout=60)]


def test_servers_up_ahead_need_no_read_now():
    host = AskedHost("haproxy", {"HaproxyServerStats": UP})
    with ctx_host.use(host):
        note_ahead(STATS_AHEAD, HaproxyServerStats, dict)
    first_read(host, "managed-state", dict)
    assert (servers_checked(host), len(host.asked)) == ([], 1)


def test_servers_not_up_ahead_are_read_again_before_any_wait():
    host = AskedHost("haproxy", {"HaproxyServerStats": DOWN})
    with ctx_host.use(host):
        note_ahead(STATS_AHEAD, HaproxyServerStats, dict)
    first_read(host, "managed-state", dict)
    host.answers["HaproxyServerStats"] = UP
    assert (servers_checked(host), len(host.asked)) == ([], 2)
