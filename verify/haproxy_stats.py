"""HAProxy's runtime view of its servers (``show stat`` on the admin stats socket).

Example:
    servers = server_states(haproxy.host.check_output(SHOW_STAT), "backend_rancher")
    {"k3s-worker-1": ("UP", "L4OK")}
"""

from __future__ import annotations

from facts.haproxy import parse_show_stat
from facts.names import HAPROXY_CONFIG

# The socket path is whatever the live config declares; python3 speaks to it because socat is
# not part of a minimal Debian container.
SHOW_STAT = (
    f"sock=$(awk '$1 == \"stats\" && $2 == \"socket\" {{print $3; exit}}' {HAPROXY_CONFIG}) && "
    "python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
    's.sendall(b"show stat\\n"); sys.stdout.write(s.makefile().read())\' "$sock"'
)


def server_states(show_stat: str, backend: str) -> dict[str, tuple[str, str]]:
    """``{server: (status, check_status)}`` for the servers of ``backend`` (parsed as the deploy's fact does)."""
    servers = parse_show_stat(show_stat.splitlines()).get(backend, {})
    return {server: (fields["status"], fields["check_status"]) for server, fields in servers.items()}


def server_addresses(show_stat: str, backend: str) -> dict[str, str]:
    """``{server: "ip:port"}`` HAProxy dials for ``backend`` (the ``addr`` column of ``show stat``)."""
    servers = parse_show_stat(show_stat.splitlines()).get(backend, {})
    return {server: fields.get("addr", "") for server, fields in servers.items()}


def servers_not_up(states: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Servers whose status is not UP, with ``status (check)`` for the message."""
    return {
        server: f"{status} ({check or 'no check'})"
        for server, (status, check) in states.items()
        if not status.startswith("UP")
    }


def first_error(output: str) -> str:
    """The line that says what went wrong: HAProxy's first ALERT, else the last line."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    alerts = [line for line in lines if "ALERT" in line]
    return (alerts or lines or ["no output"])[0 if alerts else -1]
