"""Several servers: preflight warns about etcd members sharing a Proxmox node; an all-at-once restart that would lose etcd's quorum is refused
unless allowed; one at a time is always fine; etcd health reads as one line naming the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.control_plane import quorum, quorum_lost
from tasks.etcd_health import member_problem
from tasks.preflight_checks import etcd_spread_check
from tasks.preflight_checks import etcd_spread_check
from tasks.restart import check_quorum_kept, etcd_snapshot_taken
from tasks.settings import DeployDataError
from tests.unit.ha_inventory import cluster, on_inventory_host
from tests.unit.operation_outputs import run

THREE = ["k3s-control", "k3s-control-2", "k3s-control-3"]


@pytest.mark.parametrize(("members", "at_once", "lost"), [
    (1, 1, False), (3, 1, False), (3, 2, True), (3, 3, True), (5, 2, False), (5, 3, True),
])
def test_quorum_is_lost_when_fewer_than_a_majority_stay_up(members: int, at_once: int, lost: bool) -> None:
    assert quorum_lost(members, at_once) is lost


def test_a_quorum_is_a_majority() -> None:
    assert [quorum(members) for members in (1, 3, 5)] == [1, 2, 3]


def test_all_servers_at_once_is_refused_naming_the_field(tmp_path: Path) -> None:
    with on_inventory_host(cluster(servers=3), "k3s-control", tmp_path), pytest.raises(DeployDataError) as error:
        check_quorum_kept(serial=False, selected=THREE + ["k3s-worker-1"])
    assert str(error.value).startswith("deploy: host k3s-control: field restart_nodes: restarting 3 of 3 servers "
                                       "at once loses etcd's quorum of 2")


def test_quorum_loss_may_be_allowed(tmp_path: Path) -> None:
    with on_inventory_host(cluster(servers=3, data={"restart_allow_quorum_loss": True}), "k3s-control", tmp_path):
        check_quorum_kept(serial=False, selected=THREE)


@pytest.mark.parametrize(("serial", "selected"), [(True, THREE), (False, ["k3s-control-2", "k3s-worker-1"])])
def test_one_at_a_time_or_a_minority_keeps_quorum(tmp_path: Path, serial: bool, selected: list[str]) -> None:
    with on_inventory_host(cluster(servers=3), "k3s-control", tmp_path):
        check_quorum_kept(serial=serial, selected=selected)


def test_a_lone_server_restarts_all_at_once_as_before(tmp_path: Path) -> None:
    with on_inventory_host(cluster(servers=1), "k3s-control", tmp_path):
        check_quorum_kept(serial=False, selected=["k3s-control", "k3s-worker-1"])


def test_the_snapshot_is_k3s_own_etcd_snapshot_save() -> None:
    commands, _ = run(etcd_snapshot_taken, facts={}, snapshot="pre-restart-20250101T000000Z")
    assert commands == ["k3s etcd-snapshot save --name pre-restart-20250101T000000Z"]


def test_a_healthy_member_is_no_problem() -> None:
    assert member_problem("k3s-control-2", True, "[+]etcd ok\nreadyz check passed") == ""


def test_an_unhealthy_member_is_named_with_the_apis_last_line() -> None:
    output = "[-]etcd failed: reason withheld\nError from server (InternalServerError): readyz check failed"
    assert member_problem("k3s-control-2", False, output) == \
        "k3s-control-2: etcd member not healthy (Error from server (InternalServerError): readyz check failed)"


def test_two_etcd_members_on_one_proxmox_node_are_a_warning() -> None:
    check = etcd_spread_check([("k3s-control", "lab"), ("k3s-control-2", "lab2"), ("k3s-control-3", "lab")])
    assert check is not None and (check.state, check.detail) == ("warn", "k3s-control, k3s-control-3 on Proxmox node lab")


@pytest.mark.parametrize("servers", [
    [("k3s-control", "lab")],
    [("a", "pve1"), ("b", "pve2"), ("c", "pve3")],
    [("a", None), ("b", None), ("c", None)],
])
def test_spread_members_a_lone_server_or_ssh_hosts_give_no_warning(servers) -> None:
    assert etcd_spread_check(servers) is None
