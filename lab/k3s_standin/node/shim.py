"""`k3s pod-shim --bundle DIR`: one pod's containers in a process of their own, as
containerd-shim-runc-v2 holds one pod sandbox's containers (github.com/containerd/containerd
runtime/v2/runc; its state under /run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/<id>).

Upstream: containerd/containerd runtime/v2 shims, which k3s-io/k3s's KillMode=process unit (install.sh) leaves running.

The kubelet (`shims.py`) writes the bundle's config.json and starts this in a new session; the shim
starts the containers whose images the node has (svclb forwarder, Rancher's health endpoints,
Traefik, or a container that just runs; see `runtime.py`), records them with its pid in status.json
once their ports are bound, and serves until SIGTERM. On SIGTERM it stops every container at once,
each as its process does on SIGTERM (Traefik drains, Rancher exits at once: `traefik.py`,
`rancher.py`), after the container's `lifecycle.preStop.sleep.seconds` if it has one (the kubelet
runs a preStop hook before the signal: kubernetes/kubernetes pkg/kubelet/kuberuntime/
kuberuntime_container.go `killContainer` → `executePreStopHook`, the sleep action of
PodLifecycleSleepAction, beta and on by default since 1.30), and exits when all have stopped; the
kubelet SIGKILLs the shim's session when the pod's grace period is over (`shims.py`). It needs no API access: an svclb container
reads its endpoints from the bundle's targets.json, Traefik its routes from routes.json. Each
container writes its log under /var/log/pods (`pod_logs.py`).

Example:
    python3 /usr/local/bin/k3s pod-shim --bundle /run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/<uid>
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

from k3s_standin.node.pod_logs import LogWriter, log_file
from k3s_standin.node.rancher import RancherContainer
from k3s_standin.node.runtime import HELM, RANCHER, SVCLB, TRAEFIK, Container, Factory, PodRuntime, image_kind
from k3s_standin.node.svclb import SvclbContainer
from k3s_standin.node.traefik import TraefikContainer

Obj = dict[str, Any]


class Idle:
    """An image without a lab behaviour (coredns, metrics-server, pause, cert-manager's, ...): it runs
    until stopped and is ready at once."""

    def __init__(self, image: str, writer: LogWriter) -> None:
        self.image, self.writer = image, writer

    def start(self) -> None:
        self.writer.line(f"{self.image} (standin) started")

    def stop(self) -> None:
        return


class UsageError(ValueError):
    """pod-shim was called without --bundle DIR."""


def bundle_of(argv: Sequence[str]) -> str:
    args = list(argv)
    if len(args) != 2 or args[0] != "--bundle":
        raise UsageError("usage: k3s pod-shim --bundle DIR")
    return args[1]


def container_factory(bundle: str, tls_dir: str, pulled: set[str]) -> Factory:
    """What each image runs inside this shim; None for images not in the node's store (`pulled`)."""
    def make(pod: Obj, spec: Obj, pod_ip: str, restart: int) -> Container | None:
        image = spec.get("image", "")
        kind = image_kind(image)
        if image not in pulled or kind == HELM:
            return None
        writer = LogWriter(log_file(pod["metadata"], spec["name"], restart))
        if kind == SVCLB:
            return SvclbContainer(spec, os.path.join(bundle, "targets.json"))
        if kind == RANCHER:
            return RancherContainer(pod_ip, spec, tls_dir, writer)
        if kind == TRAEFIK:
            return TraefikContainer(pod_ip, spec, os.path.join(bundle, "routes.json"), writer)
        return Idle(image, writer)
    return make


def write_status(bundle: str, status: Obj) -> None:
    partial = os.path.join(bundle, "status.json.partial")
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(status, handle)
    os.replace(partial, os.path.join(bundle, "status.json"))


def pre_stop_sleep(spec: Obj) -> float:
    """A container's preStop sleep action in seconds (0 without one).

    Example:
        pre_stop_sleep({"lifecycle": {"preStop": {"sleep": {"seconds": 5}}}})   # 5.0
    """
    return float((((spec.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds") or 0)


def stop_containers(runtime: PodRuntime) -> None:
    """Stop all containers in parallel, as the kubelet kills a pod's containers (one goroutine each)."""
    specs = {spec["name"]: spec for spec in runtime.pod["spec"].get("containers") or []}

    def stop(instance: Container, spec: Obj) -> None:
        time.sleep(pre_stop_sleep(spec))
        instance.stop()

    threads = [threading.Thread(target=stop, args=(state.instance, specs.get(state.name) or {}))
               for state in runtime.containers if state.instance is not None]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main(argv: Sequence[str]) -> int:
    """Run the bundle's pod until SIGTERM; exit 2 on bad usage."""
    try:
        bundle = bundle_of(argv)
    except UsageError as error:
        print(error)
        return 2
    with open(os.path.join(bundle, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    runtime = PodRuntime(config["pod"], config["podIP"],
                         container_factory(bundle, config["tlsDir"], set(config["pulled"])),
                         restart_count=int(config["restartCount"]))
    runtime.start(config["stamp"])
    write_status(bundle, {**runtime.state(), "pid": os.getpid()})
    while not stopping.wait(1.0):
        pass
    stop_containers(runtime)
    return 0
