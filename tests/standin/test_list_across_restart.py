"""Across a restart of a single server (sqlite datastore, SIGTERM or SIGKILL), a list answers every
object stored before or fails (connection refused or reset, 5xx, 429); it is never answered empty or
partial. kube-apiserver serves no list before its storage is ready (k8s.io/apiserver
pkg/storage/cacher/cacher.go waits for `ready`; k3s starts kube-apiserver only once kine serves the
datastore: k3s-io/k3s pkg/daemons/control/server.go), and the stand-in loads its datastore before it
listens (`apiserver.start`).

kubectl's own part: `kubectl get -o json` whose list failed still prints an empty `List` on stdout,
and exits 1 (k8s.io/kubectl pkg/cmd/get/get.go `printGeneric`: "we have zero or multple items, so
coerce all items into a list"), so a reader of its stdout must look at the exit status. Its answers
with exit 0 must hold every object.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes
import pytest

from conftest import KUBECTL, Server, admin_context, free_port, start_server, stop_server

LIST_SECONDS = 20.0
NAMESPACES = ("restart-a", "restart-b", "restart-c")
POD = "pending-web"
POD_LABELS = {"app": "restart-web"}
# what a client lists (API path) and what kubectl is asked for the same
COLLECTIONS = {
    "/api/v1/namespaces": ("get", "namespaces"),
    "/api/v1/configmaps": ("get", "configmaps", "-A"),
    f"/api/v1/namespaces/{NAMESPACES[0]}/pods?labelSelector=app%3Drestart-web":
        ("get", "pods", "-n", NAMESPACES[0], "-l", "app=restart-web"),
}

Names = set[str]
Fetch = Callable[[str], "Names | None"]


def store_objects(server: Server) -> dict[str, Names]:
    """Create namespaces, a ConfigMap in each and a labelled Pod that stays Pending (its node selector
    matches no node); returns the names each collection must list from then on."""
    core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig)))
    for name in NAMESPACES:
        core.create_namespace({"metadata": {"name": name}})
        core.create_namespaced_config_map(name, {"metadata": {"name": f"{name}-settings"}, "data": {"k": "v"}})
    core.create_namespaced_pod(NAMESPACES[0], {
        "metadata": {"name": POD, "labels": POD_LABELS},
        "spec": {"nodeSelector": {"restart-test": "no-such-node"},
                 "containers": [{"name": "web", "image": "registry.invalid/web:1"}]}})
    paths = list(COLLECTIONS)
    return {paths[0]: set(NAMESPACES), paths[1]: {f"{name}/{name}-settings" for name in NAMESPACES},
            paths[2]: {f"{NAMESPACES[0]}/{POD}"}}


def item_names(listed: dict) -> Names:
    """namespace/name of each item (name alone when cluster-scoped)."""
    names = set()
    for item in listed["items"]:
        meta = item["metadata"]
        names.add(f"{meta['namespace']}/{meta['name']}" if "namespace" in meta else meta["name"])
    return names


class ApiFetch:
    """Lists over one keep-alive HTTPS connection as the admin, reconnecting after an error; None for
    an answer that is no list (5xx, 429) or no answer."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        self.port = port
        self.context = context
        self.connection: http.client.HTTPSConnection | None = None

    def __call__(self, path: str) -> Names | None:
        try:
            self.connection = self.connection or http.client.HTTPSConnection(
                "127.0.0.1", self.port, context=self.context, timeout=5)
            self.connection.request("GET", path)
            answer = self.connection.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException):
            self.connection = None
            time.sleep(0.01)
            return None
        return item_names(json.loads(body)) if answer.status == 200 else None


def kubectl_fetch(kubeconfig: Path, cache_dir: Path) -> Fetch:
    """`kubectl ... -o json` as a script reads it: its stdout counts only when it exits 0."""
    def fetch(path: str) -> Names | None:
        result = subprocess.run([KUBECTL, "--cache-dir", str(cache_dir), *COLLECTIONS[path], "-o", "json",
                                 "--request-timeout=5s"], env={**os.environ, "KUBECONFIG": str(kubeconfig)},
                                capture_output=True, text=True, timeout=30, check=False)
        return item_names(json.loads(result.stdout)) if result.returncode == 0 else None
    return fetch


class Lister:
    """Lists every collection in a tight loop until stopped or LIST_SECONDS passed; keeps each
    answer that missed an object stored before."""

    def __init__(self, fetch: Fetch, expected: dict[str, Names]) -> None:
        self.fetch = fetch
        self.expected = expected
        self.missing: list[str] = []
        self.answered = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + LIST_SECONDS
        while not self.stopped.is_set() and time.monotonic() < deadline:
            for path, wanted in self.expected.items():
                names = self.fetch(path)
                if names is not None:
                    self.answered += 1
                    if not wanted <= names:
                        self.missing.append(f"{path} answered without {sorted(wanted - names)}")

    def __enter__(self) -> Lister:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()


def sigterm(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=10)


def sigkill(server: Server) -> None:
    server.process.kill()
    server.process.wait()


@pytest.fixture
def restart(tmp_path: Path) -> Iterator[Callable[[], Server]]:
    """Start the server (again) on one port and data dir; the last one started is stopped afterwards."""
    port = free_port()
    started: list[Server] = []

    def start() -> Server:
        started.append(start_server(tmp_path, port))
        return started[-1]

    yield start
    stop_server(started[-1])


@pytest.mark.parametrize("stop", [sigterm, sigkill], ids=["sigterm", "sigkill"])
def test_a_list_never_misses_a_stored_object_across_a_restart(restart: Callable[[], Server], tmp_path: Path,
                                                              stop: Callable[[Server], None]) -> None:
    server = restart()
    expected = store_objects(server)
    port = int(server.url.rsplit(":", 1)[1])
    listers = [Lister(ApiFetch(port, admin_context(server.data_dir)), expected),
               Lister(kubectl_fetch(server.kubeconfig, tmp_path / "kubectl-cache"), expected)]
    with listers[0], listers[1]:
        time.sleep(1.0)
        stop(server)
        restart()
        time.sleep(1.0)
    assert [lister.answered > 0 for lister in listers] == [True, True]
    assert [lister.missing for lister in listers] == [[], []]
