"""A k3s node's servers in HAProxy (Rancher's, and the API's for several servers) around a planned
restart, through the runtime API: drained before, checked afresh and made ready after.

HAProxy's ``show stat`` right after a restart may still show the server UP from before (its checks
have not failed ``fall`` times yet), so "UP" alone proves nothing. After the node is back, the server
(still drained: it gets no new connections) has its health forced down with ``set server ... health
down``; HAProxy's own checks then need ``rise`` passes, each started after the node was back, to mark
it UP again (HAProxy management guide, "set server": "health" forces the check state, which later
checks change). Only then is it set ``ready``. All commands go to every host of the ``haproxy`` group.

Example:
    drained("k3s-worker-1")            # before the restart
    checked_afresh("k3s-worker-1", 60)  # after it is back
    set_server_state("k3s-worker-1", "state ready")
"""

from __future__ import annotations

import time

import gevent
from pyinfra import inventory, logger
from pyinfra.api import StringCommand

from connectors.proxmox_node import one_line
from facts.haproxy import HaproxyServerStats, describe_server, parse_show_stat, runtime_command, server_is_up
from facts.names import API_BACKEND
from tasks.haproxy import RANCHER_BACKEND, api_servers

# How long a planned restart waits for a drained server's open sessions to end.
DRAIN_SECONDS = 10
POLL_SECONDS = 1


def backends_of(node_name: str) -> list[str]:
    """The backends with a server for this node: ``backend_rancher`` (every k3s node), and with several
    k3s servers the API's too, so a planned restart of a server sends no new API request to it."""
    return [RANCHER_BACKEND] + ([API_BACKEND] if node_name in {server.name for server in api_servers()} else [])


def set_server_state(node_name: str, change: str) -> None:
    """``set server <backend>/<node> <change>`` (``state drain``, ``state ready``, ``health down``) in
    each of its backends on every HAProxy host; a failure is a warning (the health checks still act,
    only later)."""
    for balancer in inventory.get_group("haproxy", []):
        for backend in backends_of(node_name):
            line = f"set server {backend}/{node_name} {change}"
            ok, output = balancer.run_shell_command(StringCommand(runtime_command(line)), _timeout=30)
            if not ok:
                logger.warning(f"{balancer.print_prefix}{line}: {one_line(output)}")


def server_fields(balancer, node_name: str, backend: str = RANCHER_BACKEND) -> dict[str, str]:
    """The node's row of ``show stat`` in ``backend`` on one HAProxy host (empty when unreadable)."""
    ok, output = balancer.run_shell_command(StringCommand(HaproxyServerStats().command()), _timeout=30)
    stats = parse_show_stat(output.stdout_lines) if ok else {}
    return stats.get(backend, {}).get(node_name, {})


def drained(node_name: str, timeout: float = DRAIN_SECONDS) -> None:
    """Drain the node's server, then wait (bounded) for its open sessions to finish, so a planned
    restart cuts no request; long-lived ones (websockets) are cut after ``timeout``."""
    set_server_state(node_name, "state drain")
    deadline = time.monotonic() + timeout
    for balancer in inventory.get_group("haproxy", []):
        for backend in backends_of(node_name):
            while time.monotonic() < deadline and \
                    server_fields(balancer, node_name, backend).get("scur", "0") not in ("0", ""):
                gevent.sleep(POLL_SECONDS)


def checked_afresh(node_name: str, timeout: float) -> bool:
    """Force the (drained) server's health down, make it ready, and wait until HAProxy's own checks
    have brought it UP on every HAProxy host; ``False`` with an error line naming it otherwise."""
    set_server_state(node_name, "health down")
    set_server_state(node_name, "state ready")
    deadline = time.monotonic() + timeout
    for balancer in inventory.get_group("haproxy", []):
        for backend in backends_of(node_name):
            fields = server_fields(balancer, node_name, backend)
            while not server_is_up(fields) and time.monotonic() < deadline:
                gevent.sleep(POLL_SECONDS)
                fields = server_fields(balancer, node_name, backend)
            if not server_is_up(fields):
                logger.error(f"{balancer.print_prefix}{describe_server(backend, node_name, fields)} "
                             f"{timeout:.0f}s after the node was back")
                return False
    return True
