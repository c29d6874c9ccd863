"""Conformance of an HA stand-in cluster: three `k3s server`s with embedded etcd (the real
/usr/bin/etcd of Debian's etcd-server) on 127.0.0.1, the first with --cluster-init, the others
joining through its supervisor. The tests run in file order on one cluster: reads and watches
across servers, resourceVersion as etcd's mod_revision, quorum loss and return, leader failover.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator

import kubernetes
import pytest

from ha_servers import HaServer, running_cluster, wait_for

pytestmark = pytest.mark.skipif(shutil.which("etcd") is None, reason="needs Debian's etcd-server")

NAMES = ("ha-a", "ha-b", "ha-c")
LEASE_TAKEOVER_SECONDS = 25  # leaseDuration 15 s + retryPeriod 2 s + etcd's re-election (5 s timeout)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HaServer]]:
    with running_cluster(tmp_path_factory.mktemp("k3s-ha"), NAMES) as started:
        yield started


def _configmap(name: str, value: str = "1") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"value": value}}


def _lease(server: HaServer, lease: str = "kube-controller-manager") -> kubernetes.client.V1LeaseSpec:
    coordination = kubernetes.client.CoordinationV1Api(
        kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig)))
    return coordination.read_namespaced_lease(lease, "kube-system").spec


def _holder(server: HaServer) -> str:
    return _lease(server).holder_identity or ""


def _renewing_holder(server: HaServer) -> str:
    """The holder once it renews (a holder left from before a restart renews no more)."""
    before = _lease(server)
    time.sleep(2.5)
    after = _lease(server)
    renewing = before.holder_identity == after.holder_identity and before.renew_time != after.renew_time
    return after.holder_identity if renewing else ""


def test_three_servers_are_three_ready_control_plane_nodes(servers: list[HaServer]) -> None:
    def nodes() -> list[str]:
        answer = servers[0].kubectl("get", "nodes", "--no-headers")
        ready = [line.split() for line in answer.stdout.splitlines() if " Ready " in line]
        return sorted(f"{fields[0]} {fields[2]}" for fields in ready)
    assert wait_for("3 Ready nodes", lambda: len(nodes()) == 3 and nodes()) == \
        [f"{name} control-plane,etcd,master" for name in NAMES]


def test_the_servers_are_the_members_of_one_etcd_cluster(servers: list[HaServer]) -> None:
    members = servers[2].etcd("/v3/cluster/member/list", {})["members"]
    assert sorted(member["name"].rsplit("-", 1)[0] for member in members) == list(NAMES)


def test_an_object_written_through_a_is_read_through_c(servers: list[HaServer]) -> None:
    servers[0].client().create_namespaced_config_map("default", _configmap("written-on-a", "from-a"))
    assert servers[2].client().read_namespaced_config_map("written-on-a", "default").data == {"value": "from-a"}


def test_the_resource_version_is_the_keys_etcd_mod_revision(servers: list[HaServer]) -> None:
    created = servers[1].client().create_namespaced_config_map("default", _configmap("revision-check"))
    key = base64.b64encode(b"/registry/configmaps/default/revision-check").decode()
    kv = servers[2].etcd("/v3/kv/range", {"key": key})["kvs"][0]
    assert created.metadata.resource_version == kv["mod_revision"]


def test_the_stored_value_is_the_object_under_its_kube_apiserver_key(servers: list[HaServer]) -> None:
    servers[0].client().create_namespaced_config_map("default", _configmap("stored-value", "v"))
    key = base64.b64encode(b"/registry/configmaps/default/stored-value").decode()
    value = json.loads(base64.b64decode(servers[1].etcd("/v3/kv/range", {"key": key})["kvs"][0]["value"]))
    assert (value["metadata"]["name"], value["data"]) == ("stored-value", {"value": "v"})


def test_a_stale_resource_version_through_another_server_is_a_conflict(servers: list[HaServer]) -> None:
    first = servers[0].client().create_namespaced_config_map("default", _configmap("contended"))
    updated = servers[1].client().read_namespaced_config_map("contended", "default")
    updated.data = {"value": "b"}
    servers[1].client().replace_namespaced_config_map("contended", "default", updated)
    first.data = {"value": "a"}
    with pytest.raises(kubernetes.client.exceptions.ApiException) as raised:
        servers[0].client().replace_namespaced_config_map("contended", "default", first)
    assert raised.value.status == 409


def test_a_watch_through_b_sees_a_write_through_a(servers: list[HaServer]) -> None:
    name = f"watched-{uuid.uuid4().hex[:6]}"
    start = servers[1].client().list_namespaced_config_map("default").metadata.resource_version
    seen: list[str] = []

    def watch() -> None:
        stream = kubernetes.watch.Watch()
        for event in stream.stream(servers[1].client().list_namespaced_config_map, "default",
                                   resource_version=start, timeout_seconds=20):
            if event["object"].metadata.name == name:
                seen.append(event["type"])
                stream.stop()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    time.sleep(0.5)
    servers[0].client().create_namespaced_config_map("default", _configmap(name))
    watcher.join(timeout=20)
    assert seen == ["ADDED"]


def test_the_controllers_lease_is_held_by_the_first_server(servers: list[HaServer]) -> None:
    assert _holder(servers[2]).startswith("ha-a_")


def test_with_two_of_three_members_down_a_write_fails_as_without_etcd_quorum(servers: list[HaServer]) -> None:
    """The survivor holds no lease (the first server does), so it keeps serving and answers as
    kube-apiserver does when etcd times out (errorToAPIStatus: 500, the etcd error as message)."""
    servers[0].stop()
    servers[1].stop()
    answer = servers[2].kubectl("create", "configmap", "without-quorum", "--from-literal=a=b")
    assert (answer.returncode, answer.stderr.strip()) == \
        (1, "error: failed to create configmap: etcdserver: request timed out")


def test_after_the_members_return_every_object_is_there(servers: list[HaServer]) -> None:
    servers[0].launch()
    servers[1].launch()
    for server in servers:
        server.wait_ready(timeout=90)
    names = {item.metadata.name for item in servers[0].client().list_namespaced_config_map("default").items}
    assert {"written-on-a", "revision-check", "stored-value", "contended"} <= names


def test_after_the_members_return_writes_succeed(servers: list[HaServer]) -> None:
    servers[1].client().create_namespaced_config_map("default", _configmap("after-return"))
    assert servers[0].client().read_namespaced_config_map("after-return", "default").data == {"value": "1"}


def test_sigkill_of_the_leader_moves_the_controllers_lease_within_the_lease_duration(
        servers: list[HaServer]) -> None:
    holder = wait_for("a renewing holder of the controllers' lease", lambda: _renewing_holder(servers[2]),
                      timeout=40)
    leader = next(server for server in servers if holder.startswith(f"{server.name}_"))
    survivors = [server for server in servers if server is not leader]
    killed = time.monotonic()
    leader.kill()

    def new_holder() -> str:
        try:
            current = _holder(survivors[0])
        except (kubernetes.client.exceptions.ApiException, OSError):
            return ""
        return current if current != holder else ""
    taken = wait_for("another server to take the lease", new_holder, timeout=LEASE_TAKEOVER_SECONDS)
    print(f"lease taken by {taken.split('_')[0]} {time.monotonic() - killed:.1f}s after SIGKILL")
    assert taken.split("_")[0] in {server.name for server in survivors}


def test_the_killed_leaders_etcd_died_with_it(servers: list[HaServer]) -> None:
    killed = [server for server in servers if server.process is not None and server.process.returncode == -9]
    assert [server.etcd_running() for server in killed] == [False]


def test_a_killed_server_restarts_into_the_cluster_with_the_writes_it_missed(servers: list[HaServer]) -> None:
    killed = next(server for server in servers if server.process is not None and server.process.returncode == -9)
    survivor = next(server for server in servers if server is not killed)
    survivor.client().create_namespaced_config_map("default", _configmap("while-one-was-down"))
    killed.launch()
    killed.wait_ready(timeout=90)
    assert killed.client().read_namespaced_config_map("while-one-was-down", "default").data == {"value": "1"}
