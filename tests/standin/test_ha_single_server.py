"""A server without cluster-init or server: stays a single sqlite server (k3s's default kine
datastore, `<data-dir>/server/db/state.db`): no etcd, no leader election."""

from __future__ import annotations

import kubernetes

from conftest import Server


def test_a_single_server_keeps_its_state_in_sqlite(k3s_server: Server) -> None:
    db = k3s_server.data_dir / "server" / "db"
    assert (sorted(path.name for path in db.iterdir() if not path.name.startswith("state.db")),
            (db / "state.db").is_file()) == ([], True)


def test_a_single_server_takes_no_controller_lease(api_client: kubernetes.client.ApiClient) -> None:
    leases = kubernetes.client.CoordinationV1Api(api_client).list_namespaced_lease("kube-system").items
    assert [lease.metadata.name for lease in leases
            if lease.metadata.name in ("kube-controller-manager", "kube-scheduler", "k3s")] == []


def test_a_single_server_node_has_no_etcd_role(core_v1: kubernetes.client.CoreV1Api) -> None:
    labels = core_v1.read_node("standin-conformance").metadata.labels
    assert "node-role.kubernetes.io/etcd" not in labels
