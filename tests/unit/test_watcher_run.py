"""k3s-node-watcher end to end on this machine where no cluster is needed: kubeconfig parsing,
an unreachable API, the lock, and the files it writes (log, state, Prometheus textfile)."""

import fcntl
import socket
from pathlib import Path

import pytest

from tests.unit.watcher_script import load_watcher

watcher = load_watcher()

K3S_KUBECONFIG = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0FEQVRB
    server: https://127.0.0.1:{port}
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {{}}
users:
- name: default
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
"""


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def paths(tmp_path):
    return {
        "kubeconfig": tmp_path / "k3s.yaml",
        "log": tmp_path / "log" / "k3s-node-watcher.log",
        "lock": tmp_path / "run" / "lock",
        "state": tmp_path / "state" / "state.json",
        "textfile": tmp_path / "textfile_collector" / "k3s_node_watcher.prom",
    }


def run(paths) -> int:
    return watcher.main([
        "--kubeconfig", str(paths["kubeconfig"]), "--log-file", str(paths["log"]),
        "--lock-file", str(paths["lock"]), "--state-file", str(paths["state"]),
        "--textfile", str(paths["textfile"]), "--api-timeout", "2",
    ])


def test_k3s_kubeconfig_gives_server_and_client_credentials():
    config = watcher.read_kubeconfig(K3S_KUBECONFIG.format(port=6443))
    assert config == {
        "server": "https://127.0.0.1:6443",
        "certificate-authority-data": "Q0FEQVRB",
        "client-certificate-data": "Q0VSVA==",
        "client-key-data": "S0VZ",
    }


def test_missing_kubeconfig_exits_api_unreachable(paths):
    assert run(paths) == 20


def test_unreachable_api_exits_20(paths):
    paths["kubeconfig"].write_text("clusters:\n- cluster:\n    server: http://127.0.0.1:%d\n" % closed_port())
    assert run(paths) == 20


def test_unreachable_api_is_logged(paths):
    run(paths)
    assert "outcome=skipped" in paths["log"].read_text()


def test_unreachable_api_is_a_metric(paths):
    run(paths)
    assert "k3s_node_watcher_api_up 0\n" in paths["textfile"].read_text()


def test_runs_are_counted_across_runs(paths):
    run(paths)
    run(paths)
    assert "k3s_node_watcher_runs_total 2\n" in paths["textfile"].read_text()


def test_state_file_is_private(paths):
    run(paths)
    assert paths["state"].stat().st_mode & 0o777 == 0o600


def test_a_held_lock_exits_40_without_touching_metrics(paths):
    paths["lock"].parent.mkdir(parents=True)
    with open(paths["lock"], "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert (run(paths), paths["textfile"].exists()) == (40, False)


def test_textfile_is_replaced_not_rewritten_in_place(paths):
    run(paths)
    before = paths["textfile"].stat().st_ino
    run(paths)
    assert paths["textfile"].stat().st_ino != before


def test_no_temporary_files_are_left_beside_the_textfile(paths):
    run(paths)
    assert [path.name for path in Path(paths["textfile"]).parent.iterdir()] == ["k3s_node_watcher.prom"]
