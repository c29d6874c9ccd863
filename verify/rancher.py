"""Ask Rancher's ``/ping`` through HAProxy the way a browser would, without touching DNS.

Example:
    ping_through("10.0.0.121", "rancher.example.net") == (200, "pong")
"""

from __future__ import annotations

import shlex
from typing import Any

import requests
from requests.adapters import HTTPAdapter

PING_TIMEOUT_SECONDS = 10


class ServerNameAdapter(HTTPAdapter):
    """Connect to whatever address the URL names but send ``server_hostname`` as TLS SNI."""

    def __init__(self, server_hostname: str, **kwargs: Any):
        self.server_hostname = server_hostname
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.server_hostname
        super().init_poolmanager(*args, **kwargs)


def ping_through(address: str, rancher_hostname: str) -> tuple[int, str]:
    """Status and body of ``https://<rancher_hostname>/ping`` sent to ``address`` (HAProxy) with
    matching SNI and Host; status 0 and the error when no HTTP answer came back."""
    with requests.Session() as session:
        session.mount("https://", ServerNameAdapter(rancher_hostname))
        try:
            # Rancher serves a self-signed certificate by default; the check is reachability, not trust.
            answer = session.get(
                f"https://{address}/ping",
                headers={"Host": rancher_hostname},
                timeout=PING_TIMEOUT_SECONDS,
                verify=False,
            )
        except requests.RequestException as error:
            return 0, f"no answer: {type(error).__name__}"
        return answer.status_code, answer.text


# Run on the HAProxy host with its own python3 (the deploy installs it there; curl may be absent):
# one TLS /ping to a node's Rancher port with Rancher's SNI and Host, as HAProxy's check sends it.
_PING_FROM_HOST = """
import socket, ssl, sys
address, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context()
context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
try:
    with socket.create_connection((address, port), timeout=5) as raw, context.wrap_socket(raw, server_hostname=name) as tls:
        tls.sendall(("GET /ping HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n" % name).encode())
        answer = b"".join(iter(lambda: tls.recv(4096), b""))
except OSError as error:
    sys.exit("no answer: %s" % error)
sys.stdout.write(answer.split(b"\\r\\n\\r\\n", 1)[-1].decode(errors="replace"))
"""


def ping_node_command(address: str, rancher_hostname: str) -> str:
    """Shell command for the HAProxy host: Rancher's ``/ping`` body via one node's ``ip:port``.

    Example:
        ping_node_command("10.0.0.111:443", "rancher.example.net")
    """
    ip, _, port = address.rpartition(":")
    return shlex.join(["python3", "-c", _PING_FROM_HOST, ip, port, rancher_hostname])
