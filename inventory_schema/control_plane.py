"""The control plane's shape from the inventory: how many servers it may have and the address
servers and agents register through.

One server keeps k3s's default datastore; more run embedded etcd, which needs an odd count (a
quorum of n // 2 + 1 members: a fourth server adds a member that can fail without adding one that
may, docs.k3s.io/datastore/ha-embedded). An HA cluster's fixed registration address is a load
balancer in front of the servers' 6443 when there is one (docs.k3s.io/datastore/cluster-loadbalancer:
the HAProxy host), else the first server.

Example:
    check_server_count(3)                                   # 2 raises InventoryError
    registration_address(["10.0.0.1", "10.0.0.2", "10.0.0.3"], ["10.0.0.9"], None) == "10.0.0.9"
"""

from __future__ import annotations

from typing import Any

API_PORT = 6443


class ServerCountError(ValueError):
    """An even number of control hosts; the message names the field."""


def check_server_count(count: int) -> None:
    """Refuse an even number of control hosts (one line naming the field)."""
    if count % 2 == 0:
        raise ServerCountError(
            f"inventory: field k3s_control: {count} hosts; embedded etcd needs an odd number (1, 3 or 5): "
            f"{count} keep quorum only with {count // 2 + 1} up, as {count - 1} would")


def registration_address(control_ips: list[str], haproxy_ips: list[str], override: Any) -> str:
    """Where servers after the first and agents join: one server's own address; for several, the
    operator's ``k3s_registration_address``, else the first HAProxy host, else the first server."""
    if len(control_ips) == 1:
        return control_ips[0]
    if override:
        return str(override)
    return (haproxy_ips or control_ips)[0]


def server_url(address: str) -> str:
    """``https://<address>:6443`` (brackets around an IPv6 address)."""
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{API_PORT}"
