"""Pods outlive the k3s process, as with real k3s's KillMode=process: a pod's containers run in their
own shim process; stopping (SIGTERM) or killing (SIGKILL) k3s leaves them serving, the restarted
kubelet adopts them (same container id, start time, restart count), and only killing the shim's
session (what a reboot or k3s-killall.sh does) stops them.

The pod is a Rancher stand-in bound to the server's own node; with `flannel-backend: none` it serves
HTTPS /ping on the node address 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import zipapp
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from conftest import REPO, Server, free_port, start_server, stop_server, wait_for
from k3s_standin.node.shims import Shims

NODE = "standin-conformance"


def ping(port: int) -> str:
    """Rancher's /ping through TLS (self-signed), or the error's class name."""
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/ping", context=insecure, timeout=3) as answer:
            return answer.read().decode()
    except OSError as error:
        return type(error).__name__


def core_of(server: Server) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig)))


def container(core: kubernetes.client.CoreV1Api) -> tuple[str, str, int] | None:
    """(containerID, startedAt, restartCount) of the running Rancher container, None until it runs."""
    statuses = core.read_namespaced_pod("rancher-shim", "default").status.container_statuses or []
    running = [s for s in statuses if s.state.running]
    return (running[0].container_id, str(running[0].state.running.started_at), running[0].restart_count) \
        if running else None




@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Run the pod through a SIGTERM restart, a SIGKILL restart and a killed shim session; record what held."""
    directory = tmp_path_factory.mktemp("pods-outlive")
    port, http, https = free_port(), free_port(), free_port()
    # One pod on the node: the packaged components' pods and Jobs would make the kubelet sync (and
    # restart the killed shim) sooner than the half second this scenario looks at.
    quiet = ["--disable=traefik,coredns,metrics-server,local-storage"]
    server = start_server(directory, port, quiet)
    seen: dict[str, Any] = {}
    try:
        core = core_of(server)
        core.create_namespaced_pod("default", {"metadata": {"name": "rancher-shim", "labels": {"app": "rancher"}},
                                               "spec": {"nodeName": NODE, "containers": [{
                                                   "name": "rancher", "image": "rancher/rancher:v2.10.1",
                                                   "args": [f"--http-listen-port={http}",
                                                            f"--https-listen-port={https}"]}]}})
        seen["first"] = wait_for("the pod to run", lambda: container(core))
        seen["first_ping"] = wait_for("/ping to answer", lambda: ping(https) == "pong" and "pong")
        shims = Shims(str(directory / "run"))
        uid = core.read_namespaced_pod("rancher-shim", "default").metadata.uid
        seen["shim_pid"] = shims.pid(uid)
        for how in (signal.SIGTERM, signal.SIGKILL):
            server.process.send_signal(how)
            server.process.wait(timeout=10)
            seen[f"ping_after_{how.name}"] = ping(https)
            server = start_server(directory, port, quiet)
            core = core_of(server)
            time.sleep(8)  # past POD_START_SECONDS: a kubelet that did not adopt would have restarted it
            seen[f"after_{how.name}"] = container(core)
            seen[f"shim_pid_after_{how.name}"] = shims.pid(uid)
        os.killpg(seen["shim_pid"], signal.SIGKILL)
        time.sleep(0.5)
        seen["ping_after_session_kill"] = ping(https)
        seen["restarted"] = wait_for("the kubelet to start the pod again",
                                     lambda: (c := container(core)) and c[0] != seen["first"][0] and c)
        core.delete_namespaced_pod("rancher-shim", "default")
        wait_for("the pod to go", lambda: not [p for p in core.list_namespaced_pod("default").items
                                               if p.metadata.name == "rancher-shim"])
        seen["ping_after_delete"] = ping(https)
        seen["bundles_after_delete"] = shims.uids()
        yield seen
    finally:
        stop_server(server)


def test_pod_serves_while_k3s_is_stopped(scenario: dict[str, Any]) -> None:
    assert scenario["ping_after_SIGTERM"] == "pong"


def test_pod_serves_after_k3s_is_killed(scenario: dict[str, Any]) -> None:
    assert scenario["ping_after_SIGKILL"] == "pong"


def test_restarted_kubelet_adopts_the_running_pod(scenario: dict[str, Any]) -> None:
    assert scenario["after_SIGTERM"] == scenario["after_SIGKILL"] == scenario["first"]


def test_the_same_shim_keeps_running(scenario: dict[str, Any]) -> None:
    assert scenario["shim_pid_after_SIGTERM"] == scenario["shim_pid_after_SIGKILL"] == scenario["shim_pid"]


def test_killing_the_shim_session_stops_the_pod(scenario: dict[str, Any]) -> None:
    assert scenario["ping_after_session_kill"] != "pong"


def test_kubelet_restarts_a_pod_whose_shim_died(scenario: dict[str, Any]) -> None:
    assert scenario["restarted"][2] == scenario["first"][2] + 1


def test_deleting_the_pod_stops_its_shim(scenario: dict[str, Any]) -> None:
    assert (scenario["ping_after_delete"] != "pong", scenario["bundles_after_delete"]) == (True, [])


def test_pod_shim_runs_from_the_zipapp(tmp_path: Path) -> None:
    """The kubelet starts shims with `python3 -m k3s_standin` and the zipapp on PYTHONPATH."""
    staging = tmp_path / "staging"
    shutil.copytree(REPO / "lab" / "k3s_standin", staging / "k3s_standin",
                    ignore=shutil.ignore_patterns("__pycache__"))
    binary = tmp_path / "k3s"
    zipapp.create_archive(staging, binary, interpreter="/usr/bin/python3", main="k3s_standin.__main__:main")
    probe = ("from k3s_standin.node.shims import shim_command; import subprocess; "
             "command, env = shim_command('/nonexistent'); "
             "print(subprocess.run(command[:-2], env=env, capture_output=True, text=True).stdout.strip())")
    answer = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(binary)},
                            capture_output=True, text=True, check=False)
    assert answer.stdout.strip() == "usage: k3s pod-shim --bundle DIR"
