"""A deleted pod stops gracefully, seen with the real kubectl: its EndpointSlice endpoint turns
ready=false, serving=true, terminating=true (and it leaves Endpoints) while its process still runs;
the kubelet sent SIGTERM, Traefik drains for its requestAcceptGraceTimeout, and the pod object goes
once the process is gone; a process still running when terminationGracePeriodSeconds is over is
killed."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import KUBECTL, Server, free_port, start_server, stop_server, wait_for
from k3s_standin import release
from k3s_standin.node.shims import Shims, is_shim

QUIET = ["--disable=traefik,coredns,metrics-server,local-storage"]
ACCEPT_GRACE_SECONDS = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("graceful"), free_port(), QUIET)
    yield running
    stop_server(running)


def kubectl(server: Server, *args: str, stdin: str = "") -> str:
    result = subprocess.run([KUBECTL, f"--kubeconfig={server.kubeconfig}", *args], input=stdin,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def traefik_pod_spec(accept_grace: int, grace_period: int) -> dict[str, Any]:
    """A Traefik container on free ports, draining `accept_grace` seconds on SIGTERM."""
    return {"terminationGracePeriodSeconds": grace_period, "containers": [{
        "name": "traefik", "image": f"docker.io/{release.TRAEFIK_IMAGE}",
        "args": [f"--entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeout={accept_grace}s"],
        "ports": [{"name": "web", "containerPort": free_port()}, {"name": "websecure", "containerPort": free_port()}]}]}


def apply(server: Server, *objects: dict[str, Any]) -> None:
    kubectl(server, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def get_json(server: Server, *args: str) -> dict[str, Any]:
    return json.loads(kubectl(server, "get", *args, "-o", "json"))


def running_pod(server: Server, selector: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        for pod in get_json(server, "pods", "-l", selector)["items"]:
            conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions") or []}
            if conditions.get("Ready") == "True" and not pod["metadata"].get("deletionTimestamp"):
                return pod
        return None
    return wait_for(f"a Ready pod {selector}", ready, 60)


def shim_alive(server: Server, uid: str) -> bool:
    return Shims(str(server.data_dir.parent / "run")).alive(uid)


def slice_conditions(server: Server, uid: str) -> dict[str, bool] | None:
    for endpoint_slice in get_json(server, "endpointslices", "-l", "kubernetes.io/service-name=grace")["items"]:
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("targetRef") or {}).get("uid") == uid:
                return endpoint["conditions"]
    return None


def endpoint_uids(server: Server) -> set[str]:
    subsets = get_json(server, "endpoints", "grace").get("subsets") or []
    return {a["targetRef"]["uid"] for s in subsets for key in ("addresses", "notReadyAddresses")
            for a in s.get(key) or []}


def gone(server: Server, name: str) -> bool:
    return not kubectl(server, "get", "pod", name, "--ignore-not-found", "-o", "name").strip()


def test_deleted_pod_leaves_the_service_before_its_process_stops(server: Server) -> None:
    labels = {"app": "grace"}
    apply(server,
          {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "grace", "namespace": "default"},
           "spec": {"selector": labels, "ports": [{"name": "web", "port": 80, "targetPort": "web"}]}},
          {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "grace", "namespace": "default"},
           "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels},
                                 "spec": traefik_pod_spec(ACCEPT_GRACE_SECONDS, 30)}}})
    pod = running_pod(server, "app=grace")
    name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    wait_for("the pod ready in its EndpointSlice",
             lambda: slice_conditions(server, uid) == {"ready": True, "serving": True, "terminating": False})
    assert uid in endpoint_uids(server)
    began = time.monotonic()
    kubectl(server, "delete", "pod", name, "--wait=false")
    conditions = wait_for("the endpoint terminating", lambda: (slice_conditions(server, uid) or {}).get("terminating")
                          and slice_conditions(server, uid), 10)
    assert conditions == {"ready": False, "serving": True, "terminating": True}
    assert uid not in endpoint_uids(server)
    assert shim_alive(server, uid), "the pod's process stopped before it left the Service"
    wait_for("the pod object deleted", lambda: gone(server, name), 30)
    assert time.monotonic() - began >= ACCEPT_GRACE_SECONDS
    assert not shim_alive(server, uid)
    wait_for("the endpoint gone from the slice", lambda: slice_conditions(server, uid) is None)


def test_process_still_running_after_the_grace_period_is_killed(server: Server) -> None:
    apply(server, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stubborn", "namespace": "default",
                                                                   "labels": {"app": "stubborn"}},
                   "spec": traefik_pod_spec(600, 2)})
    uid = running_pod(server, "app=stubborn")["metadata"]["uid"]
    shims = Shims(str(server.data_dir.parent / "run"))
    pid = shims.pid(uid)
    began = time.monotonic()
    kubectl(server, "delete", "pod", "stubborn", "--wait=false")
    wait_for("the pod object deleted", lambda: gone(server, "stubborn"), 20)
    assert 2 <= time.monotonic() - began < 10
    assert pid is not None and not is_shim(pid, shims.bundle(uid))
    assert not os.path.exists(shims.bundle(uid))
