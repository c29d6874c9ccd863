"""Ensures named nodes are Ready, polling the API on a control node until a deadline.

A node whose k3s unit this run (re)started must also have renewed its node lease after that
restart: right after a restart the Node object still carries the old process's ``Ready=True``
until the node monitor grace period runs out, which would otherwise pass for readiness. (The lease
is renewed every 10 s; the Ready condition's own heartbeat may be minutes old on a healthy node.)
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

from pyinfra import host
from pyinfra.api import operation

from facts.cluster_nodes import ClusterNodes
from tasks import data_error
from tasks.k3s_units import RESTARTED_AT

READY_JSONPATH = '{.status.conditions[?(@.type=="Ready")].status}'


def ready_timeout() -> int:
    """Seconds to wait for nodes to be Ready, from ``k3s_ready_timeout`` (default 300)."""
    value = host.data.get("k3s_ready_timeout", 300)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise data_error("k3s_ready_timeout", "must be a positive number of seconds")
    return value


def wait_command(nodes: dict[str, str], timeout: int, interval: int) -> str:
    """One shell command polling each node until Ready and, when it has a bound, its lease renewed
    at or after it (RFC 3339 UTC compared as strings; ``""`` accepts any), or failing at the deadline."""
    ready = shlex.quote(f"jsonpath={READY_JSONPATH}")
    renewed = shlex.quote("jsonpath={.spec.renewTime}")
    pairs = " ".join(f"{shlex.quote(name)}={shlex.quote(bound)}" for name, bound in nodes.items())
    return (
        f"deadline=$(( $(date +%s) + {int(timeout)} )); "
        f"for pair in {pairs}; do node=${{pair%%=*}}; bound=${{pair#*=}}; "
        f"while :; do "
        f"if [ \"$(k3s kubectl get node \"$node\" -o {ready} --request-timeout=5s 2>/dev/null)\" = True ]; then "
        f"[ -z \"$bound\" ] && break; "
        f"renew=$(k3s kubectl -n kube-node-lease get lease \"$node\" -o {renewed} --request-timeout=5s 2>/dev/null); "
        f"[ -n \"$renew\" ] && [ ! \"$renew\" \\< \"$bound\" ] && break; fi; "
        f"if [ $(date +%s) -ge $deadline ]; then "
        f"echo \"node $node is not Ready after {int(timeout)}s\" >&2; "
        f"k3s kubectl get nodes -o wide --request-timeout=5s >&2; exit 1; fi; "
        f"sleep {int(interval)}; done; done"
    )


@operation()
def nodes_ready(names: list[str], waits_here: bool, timeout: int = 300, interval: int = 2) -> Iterator[Any]:
    """
    Wait until every node in ``names`` reports Ready. Call it on every host from one line: the host
    with ``waits_here`` (a control node) polls the API; on the others it is an ordering point, so
    nothing after it starts anywhere before the nodes are Ready.

    + names: Kubernetes node names
    + waits_here: this host polls (it must be a control node)
    + timeout: seconds before the operation fails naming the first node still not Ready
    + interval: seconds between polls

    **Example:**

    .. code:: python

        nodes_ready(name="Workers Ready", names=["k3s-worker-1", "k3s-worker-2"],
                    waits_here=host.data.node_name == "k3s-control", timeout=300)
    """
    if not waits_here:
        host.noop(f"a control node waits for {', '.join(names)} to be Ready")
        return
    restarted = {name: RESTARTED_AT[name] for name in names if name in RESTARTED_AT}
    if not restarted:
        nodes = host.get_fact(ClusterNodes) or {}
        if all(nodes.get(name, {}).get("ready") == "True" for name in names):
            host.noop(f"nodes {', '.join(names)} are Ready")
            return
    yield wait_command({name: restarted.get(name, "") for name in names}, timeout, interval)
