"""Stops the run before anything is written when the inventory's token is not the one a k3s server's
cluster was bootstrapped with: k3s encrypts its bootstrap data with the token (k3s-io/k3s
``pkg/cluster/storage.go``), and started with another it refuses with "bootstrap data already found
and encrypted with different token" — after the deploy has replaced the good token file.

Compared by sha256 of the password part on both sides; neither token is printed or put on a command line.
"""

from __future__ import annotations

import hashlib

from facts.host_before import bootstrapped_token
from facts.k3s_token import SERVER_TOKEN
from tasks.settings import data_error, required_text


def token_password(token: str) -> str:
    """The password part of a token: ``K10<hash>::server:<password>`` (secure form) or the whole
    token (short form), as k3s compares them.

    Example:
        token_password("K10abc::server:s3cret") == "s3cret"
    """
    if token.startswith("K10") and "::" in token:
        return token.split("::", 1)[1].split(":", 1)[-1]
    return token


def check_token_matches_cluster() -> None:
    """On a server that has bootstrapped, raise the one-line data error when ``k3s_token`` differs."""
    token = required_text("k3s_token")
    bootstrapped = bootstrapped_token()
    if bootstrapped and hashlib.sha256(token_password(token).encode()).hexdigest() != bootstrapped:
        raise data_error("k3s_token", f"is not the token this server's cluster was bootstrapped with ({SERVER_TOKEN}); "
                                      "k3s would refuse to start with it (bootstrap data encrypted with a different "
                                      "token): put the cluster's token in the secrets file")
