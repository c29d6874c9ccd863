"""With several servers the watcher acts only while it holds its Lease, taken with the deploy's own
lock script (tasks/files/k3s_lease_lock.py, run here against the fake `k3s kubectl` of the cluster
lock's tests): a run that finds it held exits 40 before it asks for the nodes; a run releases it."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tasks.cluster_lock import LOCK_SCRIPT
from tests.unit.test_cluster_lock import FAKE_K3S
from tests.unit.test_watcher_run import closed_port, paths  # noqa: F401 (fixture)
from tests.unit.watcher_script import load_watcher

watcher = load_watcher()


@pytest.fixture
def fake_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake k3s first on PATH, its Lease kept in a file."""
    (tmp_path / "k3s").write_text(FAKE_K3S)
    (tmp_path / "k3s").chmod(0o755)
    store = tmp_path / "lease.json"
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LEASE", str(store))
    return store


def run_with_lease(paths) -> int:  # noqa: F811 (the fixture's value)
    paths["kubeconfig"].write_text("clusters:\n- cluster:\n    server: http://127.0.0.1:%d\n" % closed_port())
    return watcher.main([
        "--kubeconfig", str(paths["kubeconfig"]), "--log-file", str(paths["log"]),
        "--lock-file", str(paths["lock"]), "--state-file", str(paths["state"]),
        "--textfile", str(paths["textfile"]), "--api-timeout", "2",
        "--lease", "kube-system/k3s-node-watcher", "--lease-script", str(LOCK_SCRIPT),
    ])


def hold(store: Path, holder: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    store.write_text(json.dumps({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                 "metadata": {"name": "k3s-node-watcher", "namespace": "kube-system",
                                              "resourceVersion": "7"},
                                 "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60, "renewTime": stamp}}))


def test_a_lease_held_by_another_server_exits_40_without_asking_for_the_nodes(paths, fake_api):  # noqa: F811
    hold(fake_api, "k3s-node-watcher@k3s-control-2:99")
    assert run_with_lease(paths) == 40
    assert "reason=another-run-holds-the-lease:k3s-node-watcher@k3s-control-2:99" in paths["log"].read_text()
    assert not paths["textfile"].exists()


def test_a_free_lease_is_taken_for_the_run_and_released_after(paths, fake_api):  # noqa: F811
    # The API itself is down for the node list (exit 20), but the lease was taken and given back.
    assert run_with_lease(paths) == 20
    spec = json.loads(fake_api.read_text())["spec"]
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"]) == ("", 1)


def test_an_expired_lease_of_a_dead_holder_is_taken(paths, fake_api):  # noqa: F811
    hold(fake_api, "k3s-node-watcher@k3s-control-3:1")
    lease = json.loads(fake_api.read_text())
    lease["spec"]["renewTime"] = "2000-01-01T00:00:00.000000Z"
    fake_api.write_text(json.dumps(lease))
    assert run_with_lease(paths) == 20
    assert "another-run-holds-the-lease" not in paths["log"].read_text()


def test_without_an_api_for_the_lease_the_run_exits_20(paths, fake_api, monkeypatch):  # noqa: F811
    monkeypatch.setenv("FAKE_API_DOWN", "1")
    assert run_with_lease(paths) == 20
    assert "reason=api-unreachable:lease:" in paths["log"].read_text()
