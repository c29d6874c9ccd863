"""The control plane as the deploy sees it: one server (k3s's default datastore) or several on
embedded etcd (docs.k3s.io/datastore/ha-embedded), the registration address, and etcd's quorum.

The inventory decides the shape (inventory_schema/control_plane.py refuses an even count and writes
the registration address into every host's ``k3s_server_url``); these readers ask pyinfra's
inventory, so every host of a run gets the same answer.

Example:
    if is_ha() and host == first_server(): ...   # cluster-init
    quorum(3) == 2
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pyinfra import inventory
from pyinfra.api.host import Host

from tasks.settings import required_text


def servers() -> list[Host]:
    """The ``k3s_control`` hosts, in inventory order (the first one bootstraps the cluster)."""
    return list(inventory.get_group("k3s_control", []))


def first_server() -> Host:
    return servers()[0]


def is_ha() -> bool:
    """More than one server: embedded etcd, joined through the registration address."""
    return len(servers()) > 1


def api_behind_haproxy() -> bool:
    """HAProxy carries the API (a frontend on 6443) only for several servers: a lone server is its
    own registration address, and its agents keep joining it directly."""
    return is_ha() and bool(inventory.get_group("haproxy", []))


def registration_address() -> str:
    """The host part of ``k3s_server_url`` (the address that goes into ``tls-san``).

    Example:
        registration_address() == "10.213.0.121"    # k3s_server_url https://10.213.0.121:6443
    """
    return urlsplit(required_text("k3s_server_url")).hostname or ""


def quorum(members: int) -> int:
    """etcd's quorum: a majority of the members (etcd docs, "FAQ: What is failure tolerance?").

    Example:
        quorum(3) == 2 and quorum(5) == 3
    """
    return members // 2 + 1


def quorum_lost(members: int, restarted_at_once: int) -> bool:
    """Whether restarting ``restarted_at_once`` of ``members`` servers together leaves fewer than a
    quorum up (etcd then stops answering, and so does the API, until enough are back).

    Example:
        quorum_lost(3, 1) is False and quorum_lost(3, 2) is True and quorum_lost(1, 1) is False
    """
    return members > 1 and members - restarted_at_once < quorum(members)
