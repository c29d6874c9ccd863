"""A server of an HA cluster told to stop (SIGTERM: `systemctl stop k3s`, a container's shutdown)
stops accepting connections before its etcd member stops, as kube-apiserver's graceful termination
orders it (k8s.io/apiserver pkg/server/genericapiserver.go): a client meets a refused connection,
which HAProxy redispatches to another server, never an answer from a server whose etcd is gone
("dial tcp 127.0.0.1:2379: connect: connection refused").
"""

from __future__ import annotations

import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from conftest import admin_context
from ha_servers import HaServer, running_cluster

pytestmark = pytest.mark.skipif(shutil.which("etcd") is None, reason="needs Debian's etcd-server")

NAMES = ("stop-a", "stop-b", "stop-c")
PROBE_PAUSE = 0.02


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HaServer]]:
    with running_cluster(tmp_path_factory.mktemp("k3s-ha-stop"), NAMES) as started:
        yield started


def probe_answers(server: HaServer, stop: threading.Event, answers: list[object]) -> None:
    """List ConfigMaps on ``server`` until ``stop``: 200, "refused" (no connection) or the error answer."""
    context = admin_context(server.data_dir)
    while not stop.is_set():
        try:
            with urllib.request.urlopen(f"{server.url}/api/v1/namespaces/default/configmaps", context=context,
                                        timeout=5) as answer:
                answers.append(answer.status)
        except urllib.error.HTTPError as error:
            answers.append(f"{error.code} {error.read()[:200]!r}")
        except OSError:
            answers.append("refused")
        time.sleep(PROBE_PAUSE)


def test_a_stopping_server_refuses_connections_instead_of_answering_without_its_etcd(servers) -> None:
    target = servers[1]
    answers: list[object] = []
    stop = threading.Event()
    probe = threading.Thread(target=probe_answers, args=(target, stop, answers))
    probe.start()
    try:
        time.sleep(1)
        target.stop()
        time.sleep(0.5)
    finally:
        stop.set()
        probe.join()
    assert ([answer for answer in answers if answer not in (200, "refused")], 200 in answers,
            "refused" in answers) == ([], True, True)
