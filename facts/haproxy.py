"""
HAProxy runtime state, read from the stats socket (`show stat`).

The fact talks to the admin socket with python3 (HAProxy hosts carry no socat), one
command and one process per read, so polling it after a reload costs one round trip.
"""

from __future__ import annotations

import csv
import shlex

from pyinfra.api import FactBase

STATS_SOCKET = "/run/haproxy/admin.sock"

# Prints `show stat` verbatim; a missing socket (HAProxy stopped or mid-reload) prints
# nothing so the fact reads as "no servers" instead of failing the host.
_SHOW_STAT = """\
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(0)
s.sendall(b"show stat\\n")
sys.stdout.write(b"".join(iter(lambda: s.recv(65536), b"")).decode())
"""

# Sends one runtime API command; HAProxy answers `set server` with nothing on success, so any answer
# is its error message (exit 1). A missing socket is an error here: the command was not applied.
_RUNTIME = """\
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\\n")
answer = b"".join(iter(lambda: s.recv(65536), b"")).decode().strip()
sys.exit(answer or None)
"""

ServerStats = dict[str, dict[str, dict[str, str]]]


def runtime_command(line: str, socket: str = STATS_SOCKET) -> str:
    """Shell command sending one runtime API line (``set server b/s state drain``) to the socket.

    Example:
        runtime_command("set server backend_rancher/k3s-worker-1 state drain")
    """
    return f"python3 -c {shlex.quote(_RUNTIME)} {shlex.quote(socket)} {shlex.quote(line)}"

_KEPT_FIELDS = ("status", "check_status", "last_chk", "check_desc", "addr", "lastchg", "scur")


def parse_show_stat(lines: list[str]) -> ServerStats:
    """Map backend -> server -> status fields from `show stat` CSV lines."""
    rows = [line for line in lines if line.strip()]
    if not rows or not rows[0].startswith("# "):
        return {}
    header = rows[0][2:]
    servers: ServerStats = {}
    for row in csv.DictReader([header, *rows[1:]]):
        name = row["svname"]
        if name in ("FRONTEND", "BACKEND"):
            continue
        fields = {key: row.get(key) or "" for key in _KEPT_FIELDS}
        servers.setdefault(row["pxname"], {})[name] = fields
    return servers


def server_is_up(fields: dict[str, str]) -> bool:
    """UP after at least one completed check: "UP 1/2" is going down, INI is unchecked."""
    return fields.get("status") == "UP" and fields.get("check_status") not in ("", "INI")


def describe_server(backend: str, server: str, fields: dict[str, str]) -> str:
    """One phrase naming a server and why it is not UP, e.g. for an error line."""
    detail = ", ".join(
        f"{key}={fields[key]!r}"
        for key in ("check_status", "last_chk", "check_desc")
        if fields.get(key)
    )
    return f"{backend}/{server} {fields.get('status') or 'absent'} ({detail or 'no check result'})"


def servers_not_up(stats: ServerStats, expected: dict[str, dict[str, str]]) -> list[str]:
    """
    Describe every server of the ``expected`` backends that is not UP; empty when all are.

    ``expected`` maps backend -> {server name: ``addr`` (ip:port)} as rendered; a server
    missing or at another address means HAProxy still runs another config. An empty
    server mapping accepts whatever servers the backend has.
    """
    problems = []
    for backend, addresses in expected.items():
        servers = stats.get(backend)
        if not servers:
            problems.append(f"{backend}: no servers in show stat")
            continue
        for server, addr in addresses.items():
            if servers.get(server, {}).get("addr") != addr:
                problems.append(f"{backend}/{server}: not in the running config as {addr}")
        for server, fields in servers.items():
            if not server_is_up(fields):
                problems.append(describe_server(backend, server, fields))
    return problems


class HaproxyServerStats(FactBase[ServerStats]):
    """
    Returns each backend's servers with their status from HAProxy's stats socket
    (``status``, ``check_status``, ``last_chk``, ``check_desc``, ``addr``, ``lastchg``).
    Empty when the socket does not answer.

    + socket: path of the admin/stats socket

    Example:

    .. code:: python

        {
            "backend_rancher": {
                "k3s-control": {"status": "UP", "check_status": "L7OK", "last_chk": "",
                                "check_desc": "Layer7 check passed",
                                "addr": "10.213.0.101:443", "lastchg": "12"},
            },
        }
    """

    default = dict

    def requires_command(self, socket: str = STATS_SOCKET) -> str:
        return "python3"

    def command(self, socket: str = STATS_SOCKET) -> str:
        return f"python3 -c {shlex.quote(_SHOW_STAT)} {shlex.quote(socket)}"

    def process(self, output: list[str]) -> ServerStats:
        return parse_show_stat(output)
