"""Authentication: the admin client certificate (verified by TLS against the client CA) or
`Authorization: Bearer <node token>` (full K10 token or its password). Anything else is 401.

Example:
    user = authenticate(peer_cert, headers.get("Authorization"), password)
"""

from __future__ import annotations

import hmac
from typing import Any

from k3s_standin.certs import token_password


def _common_name(peer_cert: dict[str, Any] | None) -> str:
    for rdn in (peer_cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


def authenticate(peer_cert: dict[str, Any] | None, authorization: str | None, password: str) -> str | None:
    """The user name, or None when the request carries no valid credentials.

    A peer certificate is only present when the TLS handshake verified it against the client CA.
    """
    if peer_cert:
        return _common_name(peer_cert) or None
    scheme, _, credential = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        presented = token_password(credential.strip())
        if hmac.compare_digest(presented.encode(), password.encode()):
            return "system:k3s-node-token"
    return None
