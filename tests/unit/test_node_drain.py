"""A job takes a node out of scheduling and gives back only its own cordon (tasks/node_drain.py): the
commands it runs on the server for each cordon it finds, with the server stood in by a recorder (pure
decisions; the lab's day-2 tests run them on k3s)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from facts.cluster_nodes import CORDONED_BY
from tasks.node_drain import StepFailed, given_back, taken_out


class Server:
    """Answers ``kubectl get node`` with ``node``, records every other command, fails those named in ``failing``."""

    def __init__(self, node: dict, failing: tuple[str, ...] = ()) -> None:
        self.node, self.failing, self.ran = node, failing, []
        self.print_prefix = "[k3s-control] "

    def run_shell_command(self, command, _timeout=None):
        line = str(command)
        if " get node " in line:
            return True, SimpleNamespace(stdout=json.dumps(self.node), stderr_lines=[])
        self.ran.append(line)
        ok = not any(word in line for word in self.failing)
        return ok, SimpleNamespace(stdout="", stderr_lines=[] if ok else ["error: boom"])


def node(unschedulable: bool, mark: str | None = None) -> dict:
    annotations = {CORDONED_BY: mark} if mark is not None else {}
    return {"spec": {"unschedulable": True} if unschedulable else {}, "metadata": {"annotations": annotations}}


def test_a_schedulable_node_is_marked_before_the_drain_cordons_it():
    server = Server(node(False))
    taken_out(server, "k3s-worker-1", "upgrade", 300)
    assert server.ran == [f"k3s kubectl annotate --overwrite node k3s-worker-1 {CORDONED_BY}=upgrade",
                          "k3s kubectl drain k3s-worker-1 --ignore-daemonsets --delete-emptydir-data --timeout=300s"]


@pytest.mark.parametrize("mark", [None, "upgrade", "host-maintenance"])
def test_a_node_cordoned_already_keeps_its_owner_and_is_drained_all_the_same(mark):
    server = Server(node(True, mark))
    taken_out(server, "k3s-worker-1", "upgrade", 300)
    assert server.ran == ["k3s kubectl drain k3s-worker-1 --ignore-daemonsets --delete-emptydir-data --timeout=300s"]


def test_a_failed_mark_stops_before_the_drain():
    server = Server(node(False), failing=("annotate",))
    with pytest.raises(StepFailed, match="^mark the cordon: error: boom"):
        taken_out(server, "k3s-worker-1", "upgrade", 300)
    assert len(server.ran) == 1


def test_the_jobs_own_cordon_is_given_back_and_its_mark_taken_off():
    server = Server(node(True, "upgrade"))
    assert given_back(server, "k3s-worker-1", "upgrade") == ""
    assert server.ran == [f"k3s kubectl uncordon k3s-worker-1 && k3s kubectl annotate node k3s-worker-1 {CORDONED_BY}-"]


def test_an_operators_cordon_is_left_with_a_line_naming_the_node():
    server = Server(node(True))
    assert given_back(server, "k3s-worker-1", "upgrade") == (
        "k3s-worker-1 left cordoned: it was cordoned before the upgrade (not by this tool)")
    assert server.ran == []


def test_another_jobs_cordon_is_left_naming_that_job():
    server = Server(node(True, "host-maintenance"))
    assert given_back(server, "k3s-worker-1", "upgrade") == (
        "k3s-worker-1 left cordoned: it was cordoned before the upgrade (by host-maintenance)")


def test_a_schedulable_node_is_uncordoned_anyway_and_a_stale_mark_taken_off():
    plain, stale = Server(node(False)), Server(node(False, "upgrade"))
    given_back(plain, "k3s-worker-1", "upgrade")
    given_back(stale, "k3s-worker-1", "upgrade")
    assert plain.ran == ["k3s kubectl uncordon k3s-worker-1"]
    assert stale.ran == [f"k3s kubectl uncordon k3s-worker-1 && k3s kubectl annotate node k3s-worker-1 {CORDONED_BY}-"]
