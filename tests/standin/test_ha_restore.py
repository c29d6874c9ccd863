"""Conformance of the HA snapshot restore of docs.k3s.io "Backup and Restore" (embedded etcd) on three
stand-in servers: snapshot on the first; every server stopped; `k3s server --cluster-reset
--cluster-reset-restore-path=<snapshot>` on the first, which is then started; the others' db dirs
removed and both started at once, each restarted after RestartSec if it exits (Restart=always).

Real k3s (k3s-io/k3s pkg/etcd/etcd.go `Start`/`join`) adds each joining server as a learner
(`MemberAddAsLearner`); etcd admits one learner at a time ("etcdserver: too many learner members in
cluster", etcd server/etcdserver/api/membership/cluster.go `ValidateConfigurationChange`), so the
second joiner retries its join every second ("Waiting for other members to finish joining etcd
cluster", k3s-io/k3s#7000) until the leader's `manageLearners` has promoted the first. Run in file
order on one cluster.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator

import pytest

from ha_servers import HaServer, running_cluster, start_as_systemd

pytestmark = pytest.mark.skipif(shutil.which("etcd") is None or shutil.which("etcdctl") is None,
                                reason="needs Debian's etcd-server and etcd-client")

NAMES = ("restore-a", "restore-b", "restore-c")
WAITING = "Waiting for other members to finish joining etcd cluster: etcdserver: too many learner members in cluster"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HaServer]]:
    with running_cluster(tmp_path_factory.mktemp("k3s-ha-restore"), NAMES) as started:
        yield started


@pytest.fixture(scope="module")
def restarts(servers: list[HaServer]) -> dict[str, int]:
    """The docs' procedure, the two joiners started at once; their restart counts."""
    first, *others = servers
    _create(first, "in-the-snapshot")
    saved = first.k3s("etcd-snapshot", "save", "--name", "restore-test")
    assert saved.returncode == 0, saved.stderr
    snapshot = next((first.data_dir / "server" / "db" / "snapshots").glob("restore-test-*"))
    _create(first, "after-the-snapshot")
    for server in servers:
        server.stop()
    reset = first.cluster_reset(snapshot)
    assert reset.returncode == 0, reset.stderr[-3000:]
    first.start()
    for server in others:
        shutil.rmtree(server.data_dir / "server" / "db")
    return start_as_systemd(others)


def _create(server: HaServer, name: str) -> None:
    answer = server.kubectl("create", "configmap", name, f"--from-literal=name={name}")
    assert answer.returncode == 0, answer.stderr


def _members(server: HaServer) -> list[tuple[str, bool]]:
    members = server.etcd("/v3/cluster/member/list", {})["members"]
    return sorted((member.get("name", "").rsplit("-", 1)[0], bool(member.get("isLearner"))) for member in members)


def test_both_joiners_serve_without_a_restart(restarts: dict[str, int]) -> None:
    """k3s retries the join in-process on "too many learners" instead of exiting (k3s-io/k3s#7000)."""
    assert restarts == {"restore-b": 0, "restore-c": 0}


def test_the_second_joiner_waited_for_the_first_ones_promotion(servers: list[HaServer],
                                                                 restarts: dict[str, int]) -> None:
    waited = [server.name for server in servers[1:] if WAITING in server.log.read_text()]
    assert len(waited) == 1, waited


def test_all_three_are_voting_members_in_every_servers_view(servers: list[HaServer], restarts: dict[str, int]) -> None:
    voting = [(name, False) for name in NAMES]
    assert [_members(server) for server in servers] == [voting] * 3


def test_a_quorum_read_succeeds_on_every_member(servers: list[HaServer], restarts: dict[str, int]) -> None:
    key = base64.b64encode(b"/registry/configmaps/default/in-the-snapshot").decode()
    counts = [server.etcd("/v3/kv/range", {"key": key, "count_only": True}).get("count") for server in servers]
    assert counts == ["1", "1", "1"]


def test_every_server_has_the_snapshots_objects_only(servers: list[HaServer], restarts: dict[str, int]) -> None:
    def names(server: HaServer) -> tuple[bool, bool]:
        listed = server.kubectl("get", "configmaps", "-o", "name").stdout.split()
        return "configmap/in-the-snapshot" in listed, "configmap/after-the-snapshot" in listed
    assert [names(server) for server in servers] == [(True, False)] * 3


def test_a_write_through_a_joiner_is_read_through_the_restored_server(servers: list[HaServer],
                                                                       restarts: dict[str, int]) -> None:
    _create(servers[2], "after-the-restore")
    assert "configmap/after-the-restore" in servers[0].kubectl("get", "configmaps", "-o", "name").stdout.split()
