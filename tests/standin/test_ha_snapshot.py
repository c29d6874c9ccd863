"""Conformance of `k3s etcd-snapshot save|ls` and of the restore through `k3s server --cluster-reset
--cluster-reset-restore-path=<file>` on a stand-in server with embedded etcd (k3s-io/k3s
pkg/etcd/snapshot.go, etcd.go `Reset`/`Restore`). Run in file order on one server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from ha_servers import HaServer

pytestmark = pytest.mark.skipif(shutil.which("etcd") is None or shutil.which("etcdctl") is None,
                                reason="needs Debian's etcd-server and etcd-client")

RESET_MESSAGE = ("Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. "
                 "Backup and delete ${datadir}/server/db on each peer etcd server and rejoin the nodes")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HaServer]:
    running = HaServer(tmp_path_factory.mktemp("k3s-snapshot") / "s", "snap-a")
    running.start(["--cluster-init"])
    yield running
    running.stop()


def _configmap(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"value": name}}


def _names(server: HaServer) -> set[str]:
    return {item.metadata.name for item in server.client().list_namespaced_config_map("default").items}


def _snapshots(server: HaServer) -> list[Path]:
    return sorted((server.data_dir / "server" / "db" / "snapshots").iterdir())


def test_save_writes_a_snapshot_named_as_k3s_names_it(server: HaServer) -> None:
    server.client().create_namespaced_config_map("default", _configmap("before-snapshot"))
    saved = server.k3s("etcd-snapshot", "save")
    assert saved.returncode == 0, saved.stderr
    assert [re.fullmatch(r"on-demand-snap-a-\d{10}", path.name) is not None for path in _snapshots(server)] == [True]


def test_the_snapshot_is_an_etcd_database(server: HaServer, tmp_path: Path) -> None:
    answer = subprocess.run(["etcdctl", "snapshot", "status", str(_snapshots(server)[0]), "-w", "json"],
                            env={"ETCDCTL_API": "3"}, capture_output=True, text=True, check=False)
    assert answer.returncode == 0, answer.stderr


def test_ls_lists_the_snapshot_with_its_location_and_size(server: HaServer) -> None:
    snapshot = _snapshots(server)[0]
    listed = server.k3s("etcd-snapshot", "ls").stdout.splitlines()
    assert [line.split() for line in listed][:2] == [
        ["Name", "Location", "Size", "Created"],
        [snapshot.name, f"file://{snapshot}", str(snapshot.stat().st_size), listed[1].split()[3]]]


def test_restore_of_a_missing_file_fails_with_k3s_message(server: HaServer) -> None:
    missing = server.directory / "no-such-snapshot"
    answer = server.cluster_reset(missing)
    assert (answer.returncode, answer.stderr.splitlines()[-1]) == \
        (1, f'level=fatal msg="etcd: snapshot path does not exist: {missing}"')


def test_cluster_reset_with_restore_path_restores_and_exits_with_k3s_message(server: HaServer) -> None:
    server.client().create_namespaced_config_map("default", _configmap("after-snapshot"))
    server.stop()
    answer = server.cluster_reset(_snapshots(server)[0])
    assert (answer.returncode, f'level=info msg="{RESET_MESSAGE}"' in answer.stderr) == (0, True)


def test_the_restarted_server_has_the_snapshots_objects_only(server: HaServer) -> None:
    server.start()
    names = _names(server)
    assert ("before-snapshot" in names, "after-snapshot" in names) == (True, False)


def test_the_restored_member_is_alone_in_its_cluster(server: HaServer) -> None:
    members = server.etcd("/v3/cluster/member/list", {})["members"]
    assert [member["name"].rsplit("-", 1)[0] for member in members] == ["snap-a"]


def test_the_old_data_dir_is_kept_aside(server: HaServer) -> None:
    kept = [path.name for path in (server.data_dir / "server" / "db").iterdir() if path.name.startswith("etcd-old-")]
    assert len(kept) == 1


def test_writes_after_the_restore_succeed(server: HaServer) -> None:
    created = server.client().create_namespaced_config_map("default", _configmap("after-restore"))
    assert isinstance(created, kubernetes.client.V1ConfigMap)
