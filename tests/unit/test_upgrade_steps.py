"""The pieces of one node's upgrade that need no host: the drain as the Kubernetes docs run it, the old
binary kept once, the version check on the Node, and the one line a stopped upgrade ends with."""

from __future__ import annotations

import subprocess

import pytest

from tasks.node_drain import drain_command
from tasks.upgrade import keep_previous_command, left_after, stop_line, version_problem

ORDER = ["k3s-control", "k3s-worker-1", "k3s-worker-2"]
OLD, NEW = "v1.30.8+k3s1", "v1.31.4+k3s1"


def test_drain_leaves_daemonsets_drops_emptydir_and_has_a_timeout():
    assert str(drain_command("k3s-worker-1", 300)) == (
        "k3s kubectl drain k3s-worker-1 --ignore-daemonsets --delete-emptydir-data --timeout=300s")


@pytest.mark.parametrize(("installed", "kept"), [(b"old k3s", b"old k3s"), (b"new k3s", b"the real old one")])
def test_the_old_binary_is_kept_unless_the_installed_one_is_already_the_target(tmp_path, installed, kept):
    """A re-run after the binary was replaced must not overwrite k3s.previous with the new binary."""
    binary, previous = tmp_path / "k3s", tmp_path / "k3s.previous"
    binary.write_bytes(installed)
    previous.write_bytes(b"the real old one")
    target = subprocess.run(["sha256sum"], input=b"new k3s", capture_output=True, check=True).stdout.split()[0]
    command = str(keep_previous_command(target.decode())).replace("/usr/local/bin/k3s", str(binary))
    subprocess.run(["sh", "-c", command], check=True)
    assert previous.read_bytes() == kept


def node_at(version: str | None) -> dict:
    return {"status": {"nodeInfo": {"kubeletVersion": version} if version else {}}}


def test_a_node_at_the_target_version_has_no_problem():
    assert version_problem(node_at(NEW), NEW) == ""


def test_a_node_still_at_the_old_version_says_which_it_reports():
    assert version_problem(node_at(OLD), NEW) == "its kubelet reports v1.30.8+k3s1, not v1.31.4+k3s1"


def test_a_node_without_a_kubelet_version_is_not_at_the_target():
    assert version_problem(node_at(None), NEW) == "its Node shows no kubeletVersion"
    assert version_problem(None, NEW) == "its Node shows no kubeletVersion"


def test_a_failure_before_the_binary_changed_leaves_that_node_and_the_later_ones_old():
    to_upgrade = dict.fromkeys(ORDER, True)
    assert left_after(ORDER, to_upgrade, "k3s-worker-1", replaced=False) == ["k3s-worker-1", "k3s-worker-2"]


def test_a_node_with_the_new_binary_is_not_listed_as_old():
    to_upgrade = dict.fromkeys(ORDER, True)
    assert left_after(ORDER, to_upgrade, "k3s-control", replaced=True) == ["k3s-worker-1", "k3s-worker-2"]


def test_later_nodes_already_at_the_target_are_not_listed():
    to_upgrade = {"k3s-control": True, "k3s-worker-1": True, "k3s-worker-2": False}
    assert left_after(ORDER, to_upgrade, "k3s-worker-1", replaced=False) == ["k3s-worker-1"]


def test_the_stop_line_names_node_step_and_the_nodes_left():
    line = stop_line("k3s-worker-1", "restart", "not back within 300s", ["k3s-worker-2"], replaced=True)
    assert line == ("upgrade stopped at k3s-worker-1 (restart: not back within 300s); nothing else touched; left on "
                    "the old version: k3s-worker-2; k3s-worker-1 has the new binary (/usr/local/bin/k3s.previous is "
                    "its old one) and stays cordoned and drained in HAProxy")


def test_the_stop_line_is_one_line_even_when_no_node_is_left():
    line = stop_line("k3s-worker-2", "drain", "error: unable to drain node", [], replaced=False)
    assert line.endswith("left on the old version: none") and "\n" not in line
