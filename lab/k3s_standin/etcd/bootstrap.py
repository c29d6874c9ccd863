"""Server bootstrap data: the cluster's CA certificates and keys, which a joining server fetches from
a running one before it creates its own certificates, as k3s does.

k3s-io/k3s pkg/server/router.go serves `/v1-k3s/server-bootstrap` to clients authenticated with the
server token; pkg/cluster/bootstrap.go `httpBootstrap` fetches it (a JSON object of bootstrap files,
base64 contents) when a server with `server:` has no datastore of its own yet, after
pkg/clientaccess checked the server's CA against the `K10<sha256>` token prefix (`/cacerts`).

Example:
    files = bootstrap_files(pki)                      # the supervisor's answer
    fetch_bootstrap(options, pki_dir)                 # a joining server, before ensure_pki
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import urllib.request
from typing import Any

from k3s_standin import client
from k3s_standin.certs import Pki

Obj = dict[str, Any]
BOOTSTRAP_PATH = "/v1-k3s/server-bootstrap"
FILES = ("server-ca.crt", "server-ca.key", "client-ca.crt", "client-ca.key")


def bootstrap_files(pki: Pki) -> Obj:
    found = {}
    for name in FILES:
        with open(pki.path(name), "rb") as handle:
            found[name] = base64.b64encode(handle.read()).decode()
    return found


def fetch_bootstrap(server: str, token: str, tls_dir: str) -> None:
    """Write the cluster's CAs into `tls_dir` unless it has them (a restart keeps its own)."""
    if os.path.exists(os.path.join(tls_dir, "server-ca.crt")):
        return
    ca_pem = client.fetch_ca(server, token)
    with tempfile.NamedTemporaryFile(suffix=".crt") as ca_file:
        ca_file.write(ca_pem)
        ca_file.flush()
        context = ssl.create_default_context(cafile=ca_file.name)
        request = urllib.request.Request(f"{server.rstrip('/')}{BOOTSTRAP_PATH}",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            files = json.loads(answer.read())
    os.makedirs(tls_dir, mode=0o700, exist_ok=True)
    for name in FILES:
        path = os.path.join(tls_dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64decode(files[name]))
