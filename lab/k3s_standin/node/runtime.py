"""The node's "container runtime": what each image runs, and the containers of one pod.

A container runs only if its image is in the node's image store (`image_store.py`); otherwise the
pull fails as containerd's does in an air-gapped cluster (ErrImagePull, then ImagePullBackOff).
What a pulled image runs: `rancher/klipper-lb` forwards the service port (`svclb.py`),
`rancher/rancher` serves Rancher's health endpoints (`rancher.py`), the packaged Traefik serves
Ingresses (`traefik.py`), any other image (coredns, metrics-server, pause, cert-manager's, ...) runs
until stopped; those keep running in the pod's shim process (`shims.py`). `rancher/klipper-helm`
runs the helm-controller's install job to completion in the kubelet (`helm_container.py`).

A container that exits non-zero restarts under restartPolicy OnFailure/Always with the kubelet's
crash-loop back-off (kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_manager.go
`doBackOff`: the first restart is immediate, then "back-off 10s restarting failed container=...",
doubling up to 5m0s; pkg/kubelet/kubelet.go `backOffPeriod`/`MaxContainerBackOff`).

Example:
    pod_runtime = PodRuntime(pod, pod_ip, factory); pod_runtime.start("2025-11-24T16:05:01Z")
    pod_runtime.tick("2025-11-24T16:05:09Z")   # restart or back off containers that exited
    status_file_data = pod_runtime.state()
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from k3s_standin import release

Obj = dict[str, Any]
BACKOFF_AFTER = 10.0
BACKOFF_BASE, BACKOFF_MAX = 10.0, 300.0
SVCLB, RANCHER, HELM, TRAEFIK, GENERIC = "svclb", "rancher", "helm", "traefik", "generic"
TRAEFIK_REPOSITORY = release.TRAEFIK_IMAGE.rsplit(":", 1)[0]


class Container(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


Factory = Callable[[Obj, Obj, str, int], "Container | None"]


def pull_error(image: str) -> str:
    reference = image if "/" in image.split(":")[0] else f"docker.io/library/{image}"
    if reference.count("/") == 1:
        reference = f"docker.io/{reference}"
    return (f'failed to pull image "{image}": failed to pull and unpack image "{reference}": '
            f"failed to resolve reference \"{reference}\": no registry is reachable (air-gapped lab)")


def image_kind(image: str) -> str:
    """What a pulled image runs in the lab: SVCLB, RANCHER, HELM (runs to completion), TRAEFIK or GENERIC."""
    repository = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    repository = repository.removeprefix("docker.io/")
    if repository.startswith("rancher/klipper-lb"):
        return SVCLB
    if repository.startswith("rancher/klipper-helm"):
        return HELM
    if repository == "rancher/rancher":
        return RANCHER
    if repository in (TRAEFIK_REPOSITORY, "traefik", "library/traefik"):
        return TRAEFIK
    return GENERIC


def needs_shim(pod: Obj, pulled: Callable[[str], bool]) -> bool:
    """Whether any container of the pod keeps running (so the pod needs a shim process)."""
    return any(image_kind(spec.get("image", "")) != HELM and pulled(spec.get("image", ""))
               for spec in pod["spec"].get("containers") or [])


def fake_id(kind: str, text: str) -> str:
    return f"{kind}{hashlib.sha256(text.encode()).hexdigest()}"


def go_seconds(seconds: float) -> str:
    """Go's Duration String for whole seconds: 10s, 1m20s, 5m0s."""
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"


def pod_ref(pod: Obj) -> str:
    """klog's format.Pod: name_namespace(uid)."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def started_elsewhere(pod: Obj, spec: Obj, pod_ip: str, restart: int) -> Container | None:
    """The factory of a pod rebuilt from its shim's state: its containers already run in the shim."""
    raise RuntimeError(f"containers of pod {pod['metadata'].get('name')} run in its shim")


@dataclass
class ContainerState:
    name: str
    image: str
    instance: Container | None = None
    error: str = ""
    started_at: str = ""
    container_id: str = ""
    ready_at: float = 0.0
    exit_code: int | None = None
    finished_at: str = ""
    restarts: int = 0
    last_terminated: Obj | None = None
    backoff: float = 0.0
    backoff_since: float = 0.0
    waiting_message: str = ""

    def terminated(self) -> Obj:
        return {"exitCode": self.exit_code, "reason": "Completed" if self.exit_code == 0 else "Error",
                "startedAt": self.started_at, "finishedAt": self.finished_at, "containerID": self.container_id}


@dataclass
class PodRuntime:
    """The containers of one pod on this node and when they were started."""

    pod: Obj
    pod_ip: str
    factory: Factory
    restart_count: int = 0
    created: float = field(default_factory=time.time)
    containers: list[ContainerState] = field(default_factory=list)

    def start(self, stamp: str) -> None:
        for spec in self.pod["spec"].get("containers") or []:
            state = ContainerState(spec["name"], spec.get("image", ""))
            self.containers.append(state)
            self.run(state, spec, stamp)

    def run(self, state: ContainerState, spec: Obj, stamp: str) -> None:
        instance = self.factory(self.pod, spec, self.pod_ip, self.restart_count + state.restarts)
        if instance is None:
            state.error = pull_error(state.image)
            return
        try:
            instance.start()
        except OSError as error:
            state.error = f"failed to start container \"{spec['name']}\": {error}"
            return
        state.instance, state.started_at, state.exit_code, state.finished_at = instance, stamp, None, ""
        state.ready_at = float(getattr(instance, "ready_at", 0.0) or time.time())
        state.container_id = fake_id("containerd://", f"{self.pod['metadata']['uid']}/{spec['name']}/{stamp}/"
                                                      f"{state.restarts}")

    def tick(self, stamp: str) -> None:
        """Record containers that exited; restart failed ones when their back-off has passed."""
        policy = self.pod["spec"].get("restartPolicy") or "Always"
        specs = {spec["name"]: spec for spec in self.pod["spec"].get("containers") or []}
        for state in self.containers:
            code = getattr(state.instance, "exit_code", None)
            if state.instance is not None and code is not None and state.exit_code is None:
                state.exit_code, state.finished_at = int(code), stamp
            if state.exit_code is None or not restarts(policy, state.exit_code):
                continue
            now = time.monotonic()
            if state.backoff and now - state.backoff_since < state.backoff:
                state.waiting_message = (f"back-off {go_seconds(state.backoff)} restarting failed "
                                         f"container={state.name} pod={pod_ref(self.pod)}")
                continue
            state.backoff = min(BACKOFF_MAX, state.backoff * 2) if state.backoff else BACKOFF_BASE
            state.backoff_since = now
            state.last_terminated, state.waiting_message = state.terminated(), ""
            state.instance.stop()
            state.restarts += 1
            self.run(state, specs[state.name], stamp)

    def stop(self) -> None:
        for state in self.containers:
            if state.instance is not None:
                state.instance.stop()
                state.instance = None

    def state(self) -> Obj:
        """The started containers as the shim records them for the kubelet (its status file)."""
        return {"podIP": self.pod_ip, "restartCount": self.restart_count, "created": self.created,
                "containers": [{"name": c.name, "image": c.image, "error": c.error, "readyAt": c.ready_at,
                                "startedAt": c.started_at, "containerID": c.container_id}
                               for c in self.containers]}

    @classmethod
    def from_state(cls, pod: Obj, state: Obj) -> PodRuntime:
        """The kubelet's view of a pod whose containers run in its shim; nothing here starts them."""
        containers = [ContainerState(c["name"], c["image"], error=c["error"], ready_at=float(c["readyAt"]),
                                     started_at=c["startedAt"], container_id=c["containerID"])
                      for c in state["containers"]]
        return cls(pod, state["podIP"], started_elsewhere, restart_count=int(state["restartCount"]),
                   created=float(state["created"]), containers=containers)

    def pull_backoff(self) -> bool:
        """Kubelet moves from ErrImagePull to ImagePullBackOff after the first failed pull."""
        return time.time() - self.created >= BACKOFF_AFTER


def restarts(policy: str, exit_code: int) -> bool:
    """kubelet's ShouldContainerBeRestarted for an exited container."""
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)
