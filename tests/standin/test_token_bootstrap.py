"""A bootstrapped server keeps its token: started again with another one it exits 1 with k3s's own
fatal line (k3s-io/k3s pkg/cluster/storage.go), and with the same one it starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import free_port, standin_environment, start_server, stop_server


def server_with_token(directory: Path, port: int, token: str) -> subprocess.CompletedProcess:
    """Run `k3s server --token ...` in the foreground for at most 20 s (it exits at once on a mismatch)."""
    command = [sys.executable, "-m", "k3s_standin", "server", "--config", str(directory / "config.yaml"),
               "--data-dir", str(directory / "data"), "--write-kubeconfig", str(directory / "k3s.yaml"),
               "--https-listen-port", str(port), "--bind-address", "127.0.0.1", "--node-ip", "127.0.0.1",
               "--node-name", "standin-conformance", "--disable-kube-proxy", "--flannel-backend=none",
               "--disable=servicelb", "--token", token]
    return subprocess.run(command, env=standin_environment(directory), capture_output=True, text=True, timeout=20)


def test_server_refuses_a_token_other_than_the_bootstrapped_one(tmp_path: Path) -> None:
    port = free_port()
    stop_server(start_server(tmp_path, port, ["--token", "first-token"]))
    refused = server_with_token(tmp_path, port, "second-token")
    assert (refused.returncode, refused.stderr.strip().splitlines()[-1]) == (
        1, 'level=fatal msg="starting kubernetes: preparing server: '
           'bootstrap data already found and encrypted with different token"')


def test_server_starts_again_with_the_bootstrapped_token(tmp_path: Path) -> None:
    port = free_port()
    stop_server(start_server(tmp_path, port, ["--token", "first-token"]))
    stop_server(start_server(tmp_path, port, ["--token", "first-token"]))
