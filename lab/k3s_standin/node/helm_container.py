"""The helm job container (image rancher/klipper-helm): the helm-controller's install job, run to
completion on a thread of the kubelet while the container is "running"; its log lines go to the
container's log file, its exit code to the container status (`runtime.PodRuntime.tick`).

Upstream: k3s-io/klipper-helm entry (the job image's script: helm install/upgrade, exit non-zero on
failure) run by k3s-io/helm-controller's Job; the job itself is `k3s_standin.helm.job.run`.

Example:
    container = HelmJobContainer(pod, spec, api, LogWriter(path)); container.start()
    container.exit_code   # None while running, then 0 or the job's failure code
"""

from __future__ import annotations

import threading
from typing import Any

from k3s_standin.client import Client
from k3s_standin.node.pod_logs import LogWriter

Obj = dict[str, Any]


class HelmJobContainer:
    def __init__(self, pod: Obj, spec: Obj, api: Client, writer: LogWriter) -> None:
        self.pod, self.spec, self.api, self.writer = pod, spec, api, writer
        self.exit_code: int | None = None
        self.stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self.run, name=f"helm-{self.pod['metadata']['name']}", daemon=True).start()

    def run(self) -> None:
        from k3s_standin.helm import job

        try:
            code, lines = job.run(self.pod, self.spec, self.api)
        except Exception as error:  # noqa: BLE001 - a crashing job is a container exiting 1, not a dead kubelet
            code, lines = 1, [f"Error: {error}"]
        if self.stopped.is_set():
            return
        for line in lines:
            self.writer.line(line)
        self.exit_code = code

    def stop(self) -> None:
        """A stopped container's late result is dropped (the kubelet killed it)."""
        self.stopped.set()
