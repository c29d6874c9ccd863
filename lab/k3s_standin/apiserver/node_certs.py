"""The supervisor routes a node's kubelet takes its certificates from, on the API port:
`GET /v1-k3s/serving-kubelet.crt` and `GET /v1-k3s/client-ca.crt`.

Upstream: k3s-io/k3s pkg/server/router.go (v1.31): the `authed` router, which admits the groups
`k3s:agent`, `system:nodes` and `system:bootstrappers` and otherwise answers 403 "forbidden"
(pkg/server/auth/auth.go `doAuth`); agents authenticate with basic auth `node:<token password>`
(`clientaccess.WithUser("node")`, pkg/agent/run.go; deps.go `genUsers`: user `node` in group
`k3s:agent`, user `server` in `k3s:server` only). `servingKubeletCert` reads the node from the
`k3s-Node-Name` / `k3s-Node-Password` headers (400 "node name not set", "node password not set",
`getNodeInfo`), signs the server's `serving-kubelet.key` with the server CA for CN = the lowercased
node name, DNS SANs the name and `localhost`, IP SANs 127.0.0.1 and the comma-separated `k3s-Node-IP`
addresses ("invalid node IP address <nil>" otherwise, 500), and answers the certificate, the CA and
the key in one PEM stream. `client-ca.crt` is the client CA file (`fileHandler`, text/plain). Errors
are `metav1.Status` objects (pkg/util/api.go `SendError`).

Not modelled: the node password check against the `<node>.node-password.k3s` Secret
(`passwordBootstrap`); the password is required but not compared.

Example:
    routes = NodeCertificates(pki, "0123abcd")
    answer = routes.serve("/v1-k3s/serving-kubelet.crt", {"Authorization": "Basic bm9kZTowMTIzYWJjZA==",
                          "k3s-Node-Name": "k3s-worker-1", "k3s-Node-Password": "5f1c", "k3s-Node-IP": "10.213.0.111"})
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from typing import Protocol

from k3s_standin.apiserver.errors import ApiError, bad_request
from k3s_standin.apiserver.static import Answer
from k3s_standin.certs import Pki, sign

SERVING_KUBELET = "/v1-k3s/serving-kubelet.crt"
CLIENT_CA = "/v1-k3s/client-ca.crt"
PATHS = (SERVING_KUBELET, CLIENT_CA)
AGENT_USER = "node"
# Go's http.DetectContentType for a PEM stream; servingKubeletCert sets no Content-Type itself
SNIFFED_TEXT = "text/plain; charset=utf-8"


class Headers(Protocol):
    """A request's headers, looked up case-insensitively (http.server's `Message`)."""

    def get(self, name: str, /) -> str | None: ...


class NodeCertificates:
    """The two routes over the server's PKI; `password` is the token password of the `node` user."""

    def __init__(self, pki: Pki, password: str) -> None:
        self.pki = pki
        self.password = password

    def serve(self, path: str, headers: Headers) -> Answer:
        """The answer to a GET of `path` (one of PATHS); refusals are raised as ApiError."""
        if not self._is_agent(headers.get("Authorization") or ""):
            raise ApiError(403, "Forbidden", "forbidden")
        if path == CLIENT_CA:
            with open(self.pki.client_ca, "rb") as handle:
                return Answer(200, handle.read(), "text/plain")
        return Answer(200, self._serving_kubelet(headers), SNIFFED_TEXT)

    def _is_agent(self, authorization: str) -> bool:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(credential.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == AGENT_USER and hmac.compare_digest(password.encode(), self.password.encode())

    def _serving_kubelet(self, headers: Headers) -> bytes:
        name = (headers.get("k3s-Node-Name") or "").lower()
        if not name:
            raise bad_request("node name not set")
        if not headers.get("k3s-Node-Password"):
            raise bad_request("node password not set")
        addresses = ["127.0.0.1"]
        node_ips = headers.get("k3s-Node-IP") or ""
        for text in node_ips.split(",") if node_ips else ():
            try:
                addresses.append(str(ipaddress.ip_address(text)))
            except ValueError:
                raise ApiError(500, "InternalError", "Internal error occurred: invalid node IP address <nil>") from None
        sans = ",".join([f"DNS:{name}", "DNS:localhost", *(f"IP:{a}" for a in dict.fromkeys(addresses))])
        certificate = sign(self.pki, "server-ca", self.pki.serving_kubelet_key, f"/CN={name}",
                           ["extendedKeyUsage=serverAuth", f"subjectAltName={sans}"])
        with open(self.pki.server_ca, "rb") as ca, open(self.pki.serving_kubelet_key, "rb") as key:
            return certificate + ca.read() + key.read()
