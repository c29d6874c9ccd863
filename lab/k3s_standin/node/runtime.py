"""The node's "container runtime": what each image runs, and the containers of one pod.

`rancher/klipper-lb*` forwards the service port, `rancher/rancher*` serves Rancher's health
endpoints (both keep running, in the pod's shim process, see `shims.py`), `rancher/klipper-helm*`
completes at once; any other image cannot be pulled in the air-gapped lab and says so (ErrImagePull,
then ImagePullBackOff), as containerd would.

Example:
    pod_runtime = PodRuntime(pod, pod_ip, factory); pod_runtime.start("2025-11-24T16:05:01Z")
    status_file_data = pod_runtime.state()
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

Obj = dict[str, Any]
BACKOFF_AFTER = 10.0
SVCLB, RANCHER, HELM = "svclb", "rancher", "helm"
LONG_RUNNING = (SVCLB, RANCHER)


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


def image_kind(image: str) -> str | None:
    """What an image runs in the lab: SVCLB, RANCHER, HELM (runs to completion) or None (not pullable)."""
    repository = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    repository = repository.removeprefix("docker.io/")
    if repository.startswith("rancher/klipper-lb"):
        return SVCLB
    if repository.startswith("rancher/klipper-helm"):
        return HELM
    if repository == "rancher/rancher":
        return RANCHER
    return None


def long_running(pod: Obj) -> bool:
    """Whether any container of the pod keeps running (so the pod needs a shim process)."""
    return any(image_kind(spec.get("image", "")) in LONG_RUNNING for spec in pod["spec"].get("containers") or [])


def fake_id(kind: str, text: str) -> str:
    return f"{kind}{hashlib.sha256(text.encode()).hexdigest()}"


def started_elsewhere(pod: Obj, spec: Obj, pod_ip: str) -> Container | None:
    """The factory of a pod rebuilt from its shim's state: its containers already run in the shim."""
    raise RuntimeError(f"containers of pod {pod['metadata'].get('name')} run in its shim")


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

    def state(self) -> Obj:
        """The started containers as the shim records them for the kubelet (its status file)."""
        return {"podIP": self.pod_ip, "restartCount": self.restart_count, "created": self.created,
                "containers": [{"name": c.name, "image": c.image, "completed": c.completed, "error": c.error,
                                "startedAt": c.started_at, "containerID": c.container_id}
                               for c in self.containers]}

    @classmethod
    def from_state(cls, pod: Obj, state: Obj) -> PodRuntime:
        """The kubelet's view of a pod whose containers run in its shim; nothing here starts them."""
        containers = [ContainerState(c["name"], c["image"], completed=c["completed"], error=c["error"],
                                     started_at=c["startedAt"], container_id=c["containerID"])
                      for c in state["containers"]]
        return cls(pod, state["podIP"], started_elsewhere, restart_count=int(state["restartCount"]),
                   created=float(state["created"]), containers=containers)

    def pull_backoff(self) -> bool:
        """Kubelet moves from ErrImagePull to ImagePullBackOff after the first failed pull."""
        return time.time() - self.created >= BACKOFF_AFTER
