"""A (re)started kubelet posts Ready=False (KubeletNotReady) before Ready=True, so its node briefly
gets the not-ready taint."""

from __future__ import annotations

import time
from collections.abc import Iterator

import kubernetes
import pytest

from conftest import Server, free_port, start_server, stop_server
from k3s_standin.node import node_object
from k3s_standin.node.runtime_state import RuntimeState

NOT_READY_MESSAGE = "[container runtime status check may not have completed yet, network state unknown]"
SERVER_ARGS = ["--kube-controller-manager-arg=node-monitor-period=1s",
               "--kubelet-arg=node-status-update-frequency=1s",
               "--kubelet-arg=standin-runtime-ready-delay=4s"]


def test_runtime_state_has_errors_until_its_delay_passed() -> None:
    state = RuntimeState(delay=2.0, started=100.0)
    assert (bool(state.errors(now=101.9)), state.errors(now=102.0)) == (True, [])


def test_not_ready_status_is_kubelet_not_ready() -> None:
    node = {"status": {}}
    node_object.post_status(node, "10.213.0.111", "k3s-worker-1", "t1", RuntimeState(5.0).errors())
    ready = node["status"]["conditions"][-1]
    assert (ready["type"], ready["status"], ready["reason"], ready["message"]) == (
        "Ready", "False", "KubeletNotReady", NOT_READY_MESSAGE)


def ready_and_taints(core: kubernetes.client.CoreV1Api, name: str) -> tuple[str, str, frozenset] | None:
    try:
        node = core.read_node(name)
    except kubernetes.client.ApiException:
        return None
    ready = next((c for c in node.status.conditions or [] if c.type == "Ready"), None)
    if ready is None:
        return None
    return ready.status, ready.message, frozenset((t.key, t.effect) for t in node.spec.taints or [])


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list]]:
    """A server with a slow runtime start, and what its own node said from the first poll on."""
    server = start_server(tmp_path_factory.mktemp("kubelet-start"), free_port(), SERVER_ARGS)
    core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig)))
    seen: list[tuple[str, str, frozenset]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (seen and seen[-1][0] == "True" and not seen[-1][2]):
        state = ready_and_taints(core, "standin-conformance")
        if state and (not seen or seen[-1] != state):
            seen.append(state)
        time.sleep(0.2)
    yield server, seen
    stop_server(server)


def test_first_status_is_not_ready(observed: tuple[Server, list]) -> None:
    assert observed[1][0][:2] == ("False", NOT_READY_MESSAGE)


def test_node_gets_the_not_ready_taint_meanwhile(observed: tuple[Server, list]) -> None:
    assert any(("node.kubernetes.io/not-ready", "NoSchedule") in taints for _, _, taints in observed[1])


def test_node_ends_ready_without_taints(observed: tuple[Server, list]) -> None:
    assert observed[1][-1] == ("True", "kubelet is posting ready status", frozenset())
