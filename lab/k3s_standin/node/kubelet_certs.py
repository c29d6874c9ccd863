"""The kubelet's certificates, fetched from the supervisor at start as every k3s node (the server's
own embedded agent too) does: `agent/client-ca.crt` to verify its callers and
`agent/serving-kubelet.crt` + `.key`, signed by the server CA for this node's name and IP.

Upstream: k3s-io/k3s pkg/agent/config/config.go (v1.31): `get` fetches `/v1-k3s/client-ca.crt`
(`getHostFile`) before `getServingCert`, which GETs `/v1-k3s/serving-kubelet.crt` with the headers
`k3s-Node-Name`, `k3s-Node-Password` (`ensureNodePassword`: 16 random bytes in hex, kept in
/etc/rancher/node/password, 0600) and `k3s-Node-IP` (the node IPs, comma-joined), splits the answer
into certificate and key (`splitCertKeyPEM`) and writes both 0600; basic auth `node:<token password>`
(pkg/agent/run.go, `clientaccess.WithUser("node")`). Errors read "<url>: <status>" and `Get` retries
every 5 s logging "Waiting to retrieve agent configuration; server is not ready: <error>". (The 403
"Node password rejected" case needs the server's node password check, which the stand-in lacks.)

The password file is /etc/rancher/node/password, or `$K3S_STANDIN_NODE_CONFIG_DIR/password` (tests on
a host give each node its own).

Example:
    certs = ensure_kubelet_certs(api, "/var/lib/rancher/k3s", "k3s-worker-1", "10.213.0.111")
    certs.serving_cert, certs.client_ca
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import os
import secrets
import time

from k3s_standin.certs import token_password
from k3s_standin.client import Client
from k3s_standin.controllers import log

NODE_CONFIG_ENV = "K3S_STANDIN_NODE_CONFIG_DIR"
NODE_CONFIG_DIR = "/etc/rancher/node"
RETRY_SECONDS = 5.0
TIMEOUT_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class KubeletCerts:
    serving_cert: str
    serving_key: str
    client_ca: str


class FetchError(OSError):
    """The supervisor refused or could not be reached."""


def ensure_kubelet_certs(api: Client, data_dir: str, node_name: str, node_ip: str) -> KubeletCerts:
    """Fetch until the supervisor answers, as k3s's `config.Get` does."""
    while True:
        try:
            return fetch_kubelet_certs(api, data_dir, node_name, node_ip)
        except FetchError as error:
            log.info(f"Waiting to retrieve agent configuration; server is not ready: {error}")
            time.sleep(RETRY_SECONDS)


def fetch_kubelet_certs(api: Client, data_dir: str, node_name: str, node_ip: str) -> KubeletCerts:
    """One attempt: write `agent/client-ca.crt` and `agent/serving-kubelet.{crt,key}` (0600)."""
    agent = os.path.join(data_dir, "agent")
    certs = KubeletCerts(os.path.join(agent, "serving-kubelet.crt"), os.path.join(agent, "serving-kubelet.key"),
                         os.path.join(agent, "client-ca.crt"))
    _write(certs.client_ca, _get(api, "/v1-k3s/client-ca.crt", {}))
    node = {"k3s-Node-Name": node_name, "k3s-Node-Password": node_password(), "k3s-Node-IP": node_ip}
    certificate, key = split_cert_key(_get(api, "/v1-k3s/serving-kubelet.crt", node))
    _write(certs.serving_cert, certificate)
    _write(certs.serving_key, key)
    return certs


def node_password_file() -> str:
    return os.path.join(os.environ.get(NODE_CONFIG_ENV) or NODE_CONFIG_DIR, "password")


def node_password() -> str:
    """This node's password, made once (config.go `ensureNodePassword`)."""
    path = node_password_file()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        password = secrets.token_hex(16)
        _write(path, f"{password}\n".encode())
        return password


def split_cert_key(pem: bytes) -> tuple[bytes, bytes]:
    """`splitCertKeyPEM`: the certificates (leaf, then CA) and the private key of one PEM stream."""
    certificates: list[bytes] = []
    key: list[bytes] = []
    block: list[bytes] = []
    for line in pem.splitlines(keepends=True):
        block.append(line)
        if line.startswith(b"-----END "):
            (key if b"PRIVATE KEY" in line else certificates).append(b"".join(block))
            block = []
    return b"".join(certificates), b"".join(key)


def _get(api: Client, path: str, headers: dict[str, str]) -> bytes:
    credentials = base64.b64encode(f"node:{token_password(api.token)}".encode()).decode()
    url = f"https://{api.host}:{api.port}{path}"
    conn = http.client.HTTPSConnection(api.host, api.port, context=api.context, timeout=TIMEOUT_SECONDS)
    try:
        conn.request("GET", path, headers={**headers, "Authorization": f"Basic {credentials}"})
        response = conn.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise FetchError(f'Get "{url}": {error}') from error
    finally:
        conn.close()
    if response.status != 200:
        raise FetchError(f"{url}: {response.status} {response.reason}")
    return body


def _write(path: str, data: bytes) -> None:
    """0600 also when the file was there with wider permissions."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
