"""Pod shims, the kubelet's side: a pod with a long-running container runs in its own `k3s pod-shim`
process (see `shim.py`), started in a session of its own so it outlives the k3s process.

Real k3s runs with KillMode=process (k3s-io/k3s install.sh writes it into k3s.service and
k3s-agent.service): stopping or restarting k3s leaves the containerd shims
(containerd-shim-runc-v2, one per pod sandbox) and their containers running, and the restarted
kubelet adopts them; only k3s-killall.sh or a reboot stops them ("Stopping K3s",
https://docs.k3s.io/upgrades/killall: "the K3s containers continue running when the K3s service
is stopped").
containerd keeps a task's state in a bundle directory under the tmpfs `/run/k3s/containerd`
(`io.containerd.runtime.v2.task/k8s.io/<id>`), gone after a reboot; so does this:

    <run dir>/containerd/io.containerd.runtime.v2.task/k8s.io/<pod uid>/
        config.json    what to run (written by the kubelet before it starts the shim)
        status.json    what runs: pid, containers with ids and start times (written by the shim)
        targets.json   an svclb pod's ready endpoints (kept current by the kubelet)
        routes.json    a Traefik pod's Ingress routes and certificates (kept current by the kubelet)
        shim.log       the shim's stderr

The run dir is /run/k3s, or $K3S_STANDIN_RUN_DIR (tests on a host give each cluster its own).

Example:
    shims = Shims(run_dir())
    runtime = shims.launch(pod, "10.42.1.5", restart_count=0, tls_dir=tls_dir, stamp=stamp, targets={},
                           pulled=["docker.io/rancher/rancher:v2.10.1"])
    shims.adopt(pod)   # after a kubelet restart: the same containers, or None when the shim is gone
    shims.terminate(uid); shims.alive(uid); shims.kill(uid); shims.remove(uid)   # a graceful stop, step by step
    shims.stop(uid)    # the same, waiting here (a container being replaced)

A pod's graceful stop is the kubelet's, not the shim's: SIGTERM to the shim (which stops its
containers as their processes do on SIGTERM, `shim.py`), SIGKILL to its session once the grace
period is over (kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_container.go
`killContainer`, through containerd's StopContainer with a timeout), then the bundle removed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

import k3s_standin
from k3s_standin.node import pod_logs, rancher
from k3s_standin.node.runtime import PodRuntime
from k3s_standin.node.svclb import write_targets

Obj = dict[str, Any]
RUN_DIR_ENV = "K3S_STANDIN_RUN_DIR"
# What a shim inherits from k3s: where pod logs go and the Rancher start-up time (tests shorten it).
PASSED_ENV = (pod_logs.ROOT_ENV, rancher.STARTUP_ENV)
TASKS = ("containerd", "io.containerd.runtime.v2.task", "k8s.io")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def run_dir() -> str:
    return os.environ.get(RUN_DIR_ENV) or "/run/k3s"


def shim_command(bundle: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run `k3s pod-shim` from wherever this package is loaded:
    the zipapp /usr/local/bin/k3s (`python3 -m k3s_standin` with the zip on the path) or a source
    tree. The environment is minimal: no NOTIFY_SOCKET, no token."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(k3s_standin.__file__)))
    environment = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "PYTHONPATH": root}
    environment.update({name: os.environ[name] for name in PASSED_ENV if name in os.environ})
    return [sys.executable, "-m", "k3s_standin", "pod-shim", "--bundle", bundle], environment


def read_json(file_name: str) -> Obj | None:
    try:
        with open(file_name, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def is_shim(pid: int, bundle: str) -> bool:
    """Whether `pid` is a live (not zombie) pod-shim of this bundle; guards against a reused pid."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().split(b"\0")
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and b"pod-shim" in command and bundle.encode() in command


class Shims:
    """The shims under one run dir, as containerd keeps its tasks."""

    def __init__(self, root: str) -> None:
        self.tasks = os.path.join(root, *TASKS)
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def bundle(self, uid: str) -> str:
        return os.path.join(self.tasks, uid)

    def uids(self) -> list[str]:
        try:
            return sorted(os.listdir(self.tasks))
        except FileNotFoundError:
            return []

    def pid(self, uid: str) -> int | None:
        status = read_json(os.path.join(self.bundle(uid), "status.json"))
        return int(status["pid"]) if status else None

    def alive(self, uid: str) -> bool:
        child = self.children.get(uid)
        if child is not None and child.poll() is not None:
            return False
        pid = self.pid(uid)
        return pid is not None and is_shim(pid, self.bundle(uid))

    def launch(self, pod: Obj, pod_ip: str, restart_count: int, tls_dir: str, stamp: str,
               targets: dict[str, list[tuple[str, int]]], pulled: list[str]) -> PodRuntime:
        """Start the pod's shim and wait until it has started the containers (ports bound)."""
        uid = pod["metadata"]["uid"]
        bundle = self.bundle(uid)
        # Never two shims for one pod: both would hold its ports (SO_REUSEPORT) and share connections.
        self.stop(uid)
        os.makedirs(bundle, mode=0o700)
        with open(os.path.join(bundle, "config.json"), "w", encoding="utf-8") as handle:
            json.dump({"pod": pod, "podIP": pod_ip, "restartCount": restart_count, "tlsDir": tls_dir,
                       "stamp": stamp, "pulled": pulled}, handle)
        write_targets(os.path.join(bundle, "targets.json"), targets)
        command, environment = shim_command(bundle)
        with open(os.path.join(bundle, "shim.log"), "ab") as log_file:
            child = subprocess.Popen(command, env=environment, cwd="/", stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=log_file, start_new_session=True)
        self.children[uid] = child
        deadline = time.monotonic() + START_TIMEOUT
        while (status := read_json(os.path.join(bundle, "status.json"))) is None:
            if child.poll() is not None or time.monotonic() > deadline:
                self.stop(uid)
                raise OSError(f"pod-shim for {pod['metadata']['namespace']}/{pod['metadata']['name']} "
                              f"did not start (exit {child.returncode})")
            time.sleep(0.05)
        return PodRuntime.from_state(pod, status)

    def adopt(self, pod: Obj) -> PodRuntime | None:
        """The running containers of a pod whose shim outlived the previous kubelet, None without one."""
        uid = pod["metadata"]["uid"]
        status = read_json(os.path.join(self.bundle(uid), "status.json"))
        if status is None or not self.alive(uid):
            return None
        return PodRuntime.from_state(pod, status)

    def update_targets(self, uid: str, targets: dict[str, list[tuple[str, int]]]) -> None:
        write_targets(os.path.join(self.bundle(uid), "targets.json"), targets)

    def update_routes(self, uid: str, routes: Obj) -> None:
        """Replace a Traefik shim's routes file atomically (the same file write as svclb targets)."""
        write_targets(os.path.join(self.bundle(uid), "routes.json"), routes)

    def signal(self, uid: str, number: signal.Signals) -> None:
        """Send `number` to the live shim of `uid` (SIGKILL to its whole session), if there is one."""
        pid = self.pid(uid)
        if pid is not None and self.alive(uid):
            if number == signal.SIGKILL:
                os.killpg(pid, number)
            else:
                os.kill(pid, number)

    def terminate(self, uid: str) -> None:
        self.signal(uid, signal.SIGTERM)

    def kill(self, uid: str) -> None:
        self.signal(uid, signal.SIGKILL)

    def remove(self, uid: str) -> None:
        """Forget a shim that is gone: reap it if this process started it, remove its bundle."""
        child = self.children.pop(uid, None)
        if child is not None:
            child.wait()
        shutil.rmtree(self.bundle(uid), ignore_errors=True)

    def stop(self, uid: str) -> None:
        """SIGTERM the shim, SIGKILL its session after STOP_TIMEOUT, and remove its bundle."""
        self.terminate(uid)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.alive(uid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.kill(uid)
        self.remove(uid)


def kill_all(root: str) -> None:
    """What k3s-killall.sh does to the shims: kill every shim's session and forget their state."""
    shims = Shims(root)
    for uid in shims.uids():
        pid = shims.pid(uid)
        if pid is not None and is_shim(pid, shims.bundle(uid)):
            os.killpg(pid, signal.SIGKILL)
    shutil.rmtree(shims.tasks, ignore_errors=True)
