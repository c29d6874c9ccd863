"""On the stand-in node a pod runs only if its image was imported: a missing image fails like
containerd's pull in an air-gapped cluster (ErrImagePull, then ImagePullBackOff), an imported one
without a lab behaviour runs and is Ready; `k3s ctr images ls` sees the imported archive."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import kubernetes

from conftest import REPO, Server, wait_for
from k3s_standin import release

NODE = "standin-conformance"


def make_pod(core: kubernetes.client.CoreV1Api, image: str) -> str:
    name = f"img-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_pod("default", {"metadata": {"name": name}, "spec": {
        "nodeName": NODE, "containers": [{"name": "main", "image": image}]}})
    return name


def waiting(core: kubernetes.client.CoreV1Api, name: str) -> tuple[str, str] | None:
    statuses = core.read_namespaced_pod(name, "default").status.container_statuses or []
    state = statuses[0].state.waiting if statuses else None
    return (state.reason, state.message) if state else None


def test_missing_image_is_err_image_pull_then_back_off(core_v1: kubernetes.client.CoreV1Api) -> None:
    name = make_pod(core_v1, "nginx:1.27")
    reason, message = wait_for("the pull to fail", lambda: waiting(core_v1, name))
    assert reason == "ErrImagePull"
    assert message.startswith('failed to pull image "nginx:1.27": failed to pull and unpack image '
                              '"docker.io/library/nginx:1.27"')
    reason, message = wait_for("ImagePullBackOff", lambda: (w := waiting(core_v1, name)) and
                               w[0] == "ImagePullBackOff" and w, timeout=20)
    assert message.startswith('Back-off pulling image "nginx:1.27": ErrImagePull: ')
    assert core_v1.read_namespaced_pod(name, "default").status.phase == "Pending"
    core_v1.delete_namespaced_pod(name, "default")


def test_an_imported_image_runs_and_is_ready(core_v1: kubernetes.client.CoreV1Api) -> None:
    name = make_pod(core_v1, release.BUSYBOX_IMAGE)

    def ready() -> bool:
        status = core_v1.read_namespaced_pod(name, "default").status
        return status.phase == "Running" and bool(status.container_statuses) and status.container_statuses[0].ready

    wait_for("the pod to be Ready", ready)
    core_v1.delete_namespaced_pod(name, "default")


def test_ctr_lists_what_the_node_imported(k3s_server: Server) -> None:
    listed = subprocess.run([sys.executable, "-m", "k3s_standin", "ctr", "--data-dir", str(k3s_server.data_dir),
                             "images", "ls", "-q"], env={**os.environ, "PYTHONPATH": str(REPO / "lab")},
                            capture_output=True, text=True, check=True).stdout.split()
    assert set(release.SYSTEM_IMAGES) <= set(listed)
    assert "Imported images from" in k3s_server.log.read_text()
