"""`k3s pod-shim --bundle DIR`: one pod's containers in a process of their own, as
containerd-shim-runc-v2 holds one pod sandbox's containers (github.com/containerd/containerd
runtime/v2/runc; its state under /run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/<id>).

Upstream: containerd/containerd runtime/v2 shims, which k3s-io/k3s's KillMode=process unit (install.sh) leaves running.

The kubelet (`shims.py`) writes the bundle's config.json and starts this in a new session; the shim
starts the containers (svclb forwarder, Rancher's HTTPS health endpoints; see `runtime.py`), records
them with its pid in status.json once their ports are bound, and serves until SIGTERM. It needs no
API access: an svclb container reads its endpoints from the bundle's targets.json.

Example:
    python3 /usr/local/bin/k3s pod-shim --bundle /run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/<uid>
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

from k3s_standin.node.rancher import RancherContainer
from k3s_standin.node.runtime import HELM, RANCHER, SVCLB, Completed, Container, PodRuntime, image_kind
from k3s_standin.node.svclb import SvclbContainer

Obj = dict[str, Any]


class UsageError(ValueError):
    """pod-shim was called without --bundle DIR."""


def bundle_of(argv: Sequence[str]) -> str:
    args = list(argv)
    if len(args) != 2 or args[0] != "--bundle":
        raise UsageError("usage: k3s pod-shim --bundle DIR")
    return args[1]


def container_factory(bundle: str, tls_dir: str) -> Callable[[Obj, Obj, str], Container | None]:
    """What each image runs inside this shim; None for images the lab cannot pull."""
    def make(pod: Obj, spec: Obj, pod_ip: str) -> Container | None:
        kind = image_kind(spec.get("image", ""))
        if kind == SVCLB:
            return SvclbContainer(spec, os.path.join(bundle, "targets.json"))
        if kind == RANCHER:
            return RancherContainer(pod_ip, spec, tls_dir)
        if kind == HELM:
            return Completed()
        return None
    return make


def write_status(bundle: str, status: Obj) -> None:
    partial = os.path.join(bundle, "status.json.partial")
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(status, handle)
    os.replace(partial, os.path.join(bundle, "status.json"))


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
    runtime = PodRuntime(config["pod"], config["podIP"], container_factory(bundle, config["tlsDir"]),
                         restart_count=int(config["restartCount"]))
    runtime.start(config["stamp"])
    write_status(bundle, {**runtime.state(), "pid": os.getpid()})
    while not stopping.wait(1.0):
        pass
    runtime.stop()
    return 0
