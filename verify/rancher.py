"""Ask Rancher's ``/ping`` through HAProxy the way a browser would, without touching DNS, trusting
the CA that Rancher's TLS mode implies (Rancher docs "Adding TLS Secrets", "Choose your SSL
Configuration"): the private CA in ``cattle-system/tls-ca`` (``cacerts.pem``) when the operator brought
one (modes ``secret``, ``external``), else Rancher's own CA in ``cattle-system/tls-rancher`` (mode
``rancher``: cert-manager's Issuer signs with it), else the system's CAs (a public certificate).

Example:
    ping_through("10.0.0.121", "rancher.example.net", ca_pem) == (200, "pong")
"""

from __future__ import annotations

import base64
import tempfile
from typing import Any

import kubernetes
import requests
from requests.adapters import HTTPAdapter

from verify import host_probe

PING_TIMEOUT_SECONDS = 10
NAMESPACE = "cattle-system"
# Where the CA is, most specific first: (Secret, key).
TRUST_SECRETS = (("tls-ca", "cacerts.pem"), ("tls-rancher", "tls.crt"))


class ServerNameAdapter(HTTPAdapter):
    """Connect to whatever address the URL names but send ``server_hostname`` as TLS SNI."""

    def __init__(self, server_hostname: str, **kwargs: Any):
        self.server_hostname = server_hostname
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.server_hostname
        super().init_poolmanager(*args, **kwargs)


def trusted_ca(core_api: Any) -> tuple[str | None, str]:
    """(CA PEM or None for the system's, where it came from) for Rancher's certificate."""
    for name, key in TRUST_SECRETS:
        try:
            secret = core_api.read_namespaced_secret(name, NAMESPACE)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                continue
            raise
        if (secret.data or {}).get(key):
            return base64.b64decode(secret.data[key]).decode(), f"{NAMESPACE}/{name}"
    return None, "the system's CAs"


def ping_through(address: str, rancher_hostname: str, ca_pem: str | None) -> tuple[int, str]:
    """Status and body of ``https://<rancher_hostname>/ping`` sent to ``address`` (HAProxy) with
    matching SNI and Host, the certificate verified against ``ca_pem`` (None: the system's CAs) and
    the hostname; status 0 and the error when no verified HTTP answer came back."""
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as ca_file, requests.Session() as session:
        if ca_pem is not None:
            ca_file.write(ca_pem)
            ca_file.flush()
        session.mount("https://", ServerNameAdapter(rancher_hostname))
        try:
            answer = session.get(
                f"https://{address}/ping",
                headers={"Host": rancher_hostname},
                timeout=PING_TIMEOUT_SECONDS,
                verify=ca_file.name if ca_pem is not None else True,
            )
        except requests.exceptions.SSLError as error:
            return 0, f"certificate not trusted: {str(error.args[0])[-160:]}"
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
