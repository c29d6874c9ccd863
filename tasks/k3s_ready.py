"""Ensures named nodes are Ready, polling the API on a control node until a deadline."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

from pyinfra import host
from pyinfra.api import operation

from facts.cluster_nodes import ClusterNodes
from tasks import data_error

READY_JSONPATH = "{.status.conditions[?(@.type==\"Ready\")].status}"


def ready_timeout() -> int:
    """Seconds to wait for nodes to be Ready, from ``k3s_ready_timeout`` (default 300)."""
    value = host.data.get("k3s_ready_timeout", 300)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise data_error("k3s_ready_timeout", "must be a positive number of seconds")
    return value


def wait_command(names: list[str], timeout: int, interval: int) -> str:
    """One shell command that polls each node's Ready condition until all are True or time runs out."""
    jsonpath = shlex.quote(f"jsonpath={READY_JSONPATH}")
    return (
        f"deadline=$(( $(date +%s) + {int(timeout)} )); "
        f"for node in {' '.join(shlex.quote(name) for name in names)}; do "
        f"until [ \"$(k3s kubectl get node \"$node\" -o {jsonpath} --request-timeout=5s 2>/dev/null)\" = True ]; do "
        f"if [ $(date +%s) -ge $deadline ]; then "
        f"echo \"node $node is not Ready after {int(timeout)}s\" >&2; "
        f"k3s kubectl get nodes -o wide --request-timeout=5s >&2; exit 1; fi; "
        f"sleep {int(interval)}; done; done"
    )


@operation()
def nodes_ready(names: list[str], timeout: int = 300, interval: int = 2) -> Iterator[Any]:
    """
    Wait until every node in ``names`` reports Ready; run on a control node.

    + names: Kubernetes node names
    + timeout: seconds before the operation fails naming the first node still not Ready
    + interval: seconds between polls

    **Example:**

    .. code:: python

        nodes_ready(name="Workers Ready", names=["k3s-worker-1", "k3s-worker-2"], timeout=300)
    """
    nodes = host.get_fact(ClusterNodes) or {}
    if all(nodes.get(name, {}).get("ready") == "True" for name in names):
        host.noop(f"nodes {', '.join(names)} are Ready")
        return
    yield wait_command(names, timeout, interval)
