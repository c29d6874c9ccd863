"""The node's "container runtime": pod containers are threads of the k3s process, chosen by image.
`rancher/klipper-lb*` forwards the service port, `rancher/rancher*` serves Rancher's health
endpoints, `rancher/klipper-helm*` completes at once; any other image cannot be pulled in the
air-gapped lab and says so (ErrImagePull, then ImagePullBackOff), as containerd would.

Example:
    pod_runtime = PodRuntime(pod, pod_ip, factory); pod_runtime.start(); pod_runtime.stop()
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

Obj = dict[str, Any]
BACKOFF_AFTER = 10.0


class Container(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Completed:
    """A container that runs to completion successfully at once (the helm job image)."""

    def start(self) -> None:
        return

    def stop(self) -> None:
        return


def pull_error(image: str) -> str:
    reference = image if "/" in image.split(":")[0] else f"docker.io/library/{image}"
    if reference.count("/") == 1:
        reference = f"docker.io/{reference}"
    return (f'failed to pull image "{image}": failed to pull and unpack image "{reference}": '
            f"failed to resolve reference \"{reference}\": no registry is reachable (air-gapped lab)")


def fake_id(kind: str, text: str) -> str:
    return f"{kind}{hashlib.sha256(text.encode()).hexdigest()}"


@dataclass
class ContainerState:
    name: str
    image: str
    instance: Container | None = None
    completed: bool = False
    error: str = ""
    started_at: str = ""
    container_id: str = ""


@dataclass
class PodRuntime:
    """The containers of one pod on this node and when they were started."""

    pod: Obj
    pod_ip: str
    factory: Callable[[Obj, Obj, str], Container | None]
    restart_count: int = 0
    created: float = field(default_factory=time.time)
    containers: list[ContainerState] = field(default_factory=list)

    def start(self, stamp: str) -> None:
        for spec in self.pod["spec"].get("containers") or []:
            state = ContainerState(spec["name"], spec.get("image", ""))
            self.containers.append(state)
            instance = self.factory(self.pod, spec, self.pod_ip)
            if instance is None:
                state.error = pull_error(state.image)
                continue
            try:
                instance.start()
            except OSError as error:
                state.error = f"failed to start container \"{spec['name']}\": {error}"
                continue
            state.instance, state.started_at = instance, stamp
            state.completed = isinstance(instance, Completed)
            state.container_id = fake_id("containerd://", f"{self.pod['metadata']['uid']}/{spec['name']}/{stamp}")

    def stop(self) -> None:
        for state in self.containers:
            if state.instance is not None:
                state.instance.stop()
                state.instance = None

    def pull_backoff(self) -> bool:
        """Kubelet moves from ErrImagePull to ImagePullBackOff after the first failed pull."""
        return time.time() - self.created >= BACKOFF_AFTER
