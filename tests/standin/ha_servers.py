"""HA stand-in servers for the conformance tests: real `k3s server` processes on 127.0.0.1, each with
its own API port, etcd client and peer ports (free ports), data dir and node name; the first with
`--cluster-init`, the others joining with `--server` and the first one's node token.

Example:
    first = HaServer(tmp_path / "a", "ha-a")
    first.start(["--cluster-init"])
    second = HaServer(tmp_path / "b", "ha-b")
    second.start(first.join_args())

    with running_cluster(tmp_path, ("ha-a", "ha-b", "ha-c")) as servers: ...
    restarts = start_as_systemd([second, third])   # both at once, restarted as Restart=always would
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from conftest import KUBECTL, admin_context, free_port, standin_environment, wait_for
from k3s_standin.node.shims import kill_all

START_SECONDS = 60
RESTART_SECONDS = 5.0  # the lab's k3s unit: Restart=always, RestartSec=5s (tasks/templates/k3s.service.j2)


class HaServer:
    """One server of an HA cluster; its ports stay the same across restarts."""

    def __init__(self, directory: Path, name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.name = name
        self.port = free_port()
        self.etcd_client_port = free_port()
        self.etcd_peer_port = free_port()
        self.data_dir = directory / "data"
        self.kubeconfig = directory / "k3s.yaml"
        self.log = directory / "k3s.log"
        self.args: list[str] = []
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def node_token(self) -> str:
        return (self.data_dir / "server" / "node-token").read_text().strip()

    def join_args(self) -> list[str]:
        return ["--server", self.url, "--token", self.node_token]

    def command(self, args: Sequence[str]) -> list[str]:
        return [sys.executable, "-m", "k3s_standin", "server", "--config", str(self.directory / "none.yaml"),
                "--data-dir", str(self.data_dir), "--write-kubeconfig", str(self.kubeconfig),
                "--https-listen-port", str(self.port), "--bind-address", "127.0.0.1",
                "--node-ip", "127.0.0.1", "--node-name", self.name,
                "--disable-kube-proxy", "--flannel-backend=none", "--disable=servicelb",
                "--kube-controller-manager-arg=node-monitor-grace-period=1h", *args]

    def environment(self) -> dict[str, str]:
        return standin_environment(self.directory, K3S_STANDIN_ETCD_CLIENT_PORT=str(self.etcd_client_port),
                                   K3S_STANDIN_ETCD_PEER_PORT=str(self.etcd_peer_port))

    def launch(self, args: Sequence[str] = ()) -> None:
        """Start the process without waiting (a member restarting into a cluster without quorum
        waits for its peers)."""
        self.args = list(args) or self.args
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(self.command(self.args), env=self.environment(),
                                            stdout=output, stderr=subprocess.STDOUT)

    def start(self, args: Sequence[str] = ()) -> None:
        self.launch(args)
        self.wait_ready()

    def wait_ready(self, timeout: float = START_SECONDS) -> None:
        def ready() -> bool:
            if self.process is None or self.process.poll() is not None:
                pytest.fail(f"k3s server {self.name} exited:\n{self.log.read_text()[-3000:]}")
            return self.ready()
        wait_for(f"k3s server {self.name} to serve", ready, timeout)

    def ready(self) -> bool:
        if not self.kubeconfig.exists():
            return False
        context = admin_context(self.data_dir)
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", context=context, timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM (systemctl stop): k3s stops its etcd on the way out."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        kill_all(str(self.directory / "run"))

    def kill(self) -> None:
        """SIGKILL of the k3s process; its etcd dies with it, as etcd lives inside real k3s."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig)))

    def k3s(self, *args: str) -> subprocess.CompletedProcess:
        """Another `k3s` command on this server's data dir (`etcd-snapshot save`, `etcd-snapshot ls`)."""
        return self._run([sys.executable, "-m", "k3s_standin", *args, "--config", str(self.directory / "none.yaml"),
                          "--data-dir", str(self.data_dir), "--node-name", self.name])

    def cluster_reset(self, snapshot: Path) -> subprocess.CompletedProcess:
        """`k3s server --cluster-reset --cluster-reset-restore-path=<snapshot>` with the server's own flags
        (as its config file gives them in the lab), so the restored member keeps its address."""
        return self._run(self.command([*self.args, "--cluster-reset", f"--cluster-reset-restore-path={snapshot}"]))

    def _run(self, command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self.environment(), capture_output=True, text=True, timeout=120,
                              check=False)

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([KUBECTL, *args], env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
                              capture_output=True, text=True, timeout=timeout, check=False)

    def etcd(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A call to this server's etcd v3 gateway (the tests' view of the datastore)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.etcd_client_port}{path}",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=20) as answer:
            return json.loads(answer.read())

    def etcd_running(self) -> bool:
        try:
            self.etcd("/v3/maintenance/status", {})
        except OSError:
            return False
        return True


def start_as_systemd(servers: Sequence[HaServer], timeout: float = 150.0,
                     each_poll: Callable[[], None] = lambda: None) -> dict[str, int]:
    """Launch every server at once and wait until all serve; one that exits is launched again after
    RestartSec, as systemd does for the lab's unit; `each_poll` runs on every poll (every 0.5 s).
    Returns each server's restart count."""
    restarts = {server.name: 0 for server in servers}
    exited: dict[str, float] = {}
    for server in servers:
        server.launch()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        each_poll()
        for server in servers:
            if server.process is not None and server.process.poll() is not None:
                exited.setdefault(server.name, time.monotonic())
            if server.name in exited and time.monotonic() - exited[server.name] >= RESTART_SECONDS:
                del exited[server.name]
                restarts[server.name] += 1
                server.launch()
        if not exited and all(server.ready() for server in servers):
            return restarts
        time.sleep(0.5)
    logs = "\n".join(f"--- {server.name} ---\n{server.log.read_text()[-3000:]}" for server in servers)
    pytest.fail(f"timed out after {timeout:g}s waiting for {[s.name for s in servers]} to serve "
                f"(restarts {restarts}):\n{logs}")


@contextlib.contextmanager
def running_cluster(root: Path, names: Sequence[str], args: Sequence[str] = ()) -> Iterator[list[HaServer]]:
    """One server per name under `root`, all with `args`: the first with --cluster-init, the others
    joining it; every one stopped at the end."""
    started = [HaServer(root / name, name) for name in names]
    try:
        started[0].start(["--cluster-init", *args])
        for server in started[1:]:
            server.start([*started[0].join_args(), *args])
        yield started
    finally:
        for server in started:
            server.stop()
