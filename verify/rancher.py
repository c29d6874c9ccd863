"""Ask Rancher's ``/ping`` through HAProxy the way a browser would, without touching DNS.

Example:
    ping_through("10.0.0.121", "rancher.example.net") == (200, "pong")
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from verify import host_probe

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


def ping_node_command(address: str, rancher_hostname: str) -> str:
    """Shell command for the HAProxy host: Rancher's ``/ping`` body via one node's ``ip:port``, sent
    with its own python3 (verify/host_probe.py's ``ping``; curl may be absent there).

    Example:
        ping_node_command("10.0.0.111:443", "rancher.example.net")
    """
    ip, _, port = address.rpartition(":")
    return host_probe.command("ping", ip, port, rancher_hostname)
