"""Authentication and the one authorization rule the stand-in models: who may send a request
without credentials.

Upstream: k3s-io/k3s pkg/daemons/control/server.go (`argsMap["anonymous-auth"] = "false"`, unless
`kube-apiserver-arg: anonymous-auth=true` overrides it); kubernetes/kubernetes staging/src/k8s.io/apiserver
pkg/endpoints/filters/authentication.go (`Unauthorized`), authorization.go and
handlers/responsewriters/errors.go (`Forbidden`, `forbiddenMessage`), pkg/endpoints/request/requestinfo.go
(`NewRequestInfo`: resource or non-resource request, the verb), and plugin/pkg/auth/authorizer/rbac/
bootstrappolicy/policy.go (`system:public-info-viewer`, bound to system:unauthenticated).

* Credentials are a client certificate the client CA signed (the TLS handshake accepts any,
  `client_cert_request.py`; staging/src/k8s.io/apiserver pkg/authentication/request/x509/x509.go) or
  `Authorization: Bearer <node token>` (full K10 token or its password). The first that admits wins
  (pkg/authentication/request/union/union.go); a certificate the client CA did not sign or a wrong
  token (bearertoken.go: "invalid bearer token") is an authentication error.
* An error is 401 `Unauthorized` even with anonymous auth on (pkg/kubeapiserver/authenticator/config.go:
  `union.NewFailOnError(authenticator, anonymous...)`, "don't consider a bad bearer token ... anonymous").
* Without credentials a request is 401 `Unauthorized` on every kube-apiserver path, since k3s turns
  anonymous requests off. With `anonymous-auth=true` it is `system:anonymous`, which RBAC lets
  `get` only /healthz, /livez, /readyz, /version and /version/ (exact paths); anything else is
  403 Forbidden with kube-apiserver's message, e.g. `forbidden: User "system:anonymous" cannot get
  path "/api"` or `nodes is forbidden: User "system:anonymous" cannot list resource "nodes" in API
  group "" at the cluster scope`.

Example:
    found = authenticate(peer_cert, verified(connection), headers.get("Authorization"), password)
    if found.user is None:
        refusal = anonymous_refusal(anonymous_auth and not found.rejected, "GET", "/api/v1/nodes", {})
        # ApiError 401 or 403, or None
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Mapping
from typing import Any

from k3s_standin.apiserver import errors
from k3s_standin.apiserver.errors import ApiError
from k3s_standin.certs import token_password

ANONYMOUS = "system:anonymous"
PUBLIC_INFO_PATHS = frozenset({"/healthz", "/version", "/version/", "/livez", "/readyz"})
# requestinfo.go: an API prefix and what follows it is a resource request
API_PREFIXES = {"api": 3, "apis": 4}
METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}
# requestinfo.go namespaceSubresources: /namespaces/<name>/<one of these> is the namespace's own subresource
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
TRUE_VALUES = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # Go's strconv.ParseBool


def _common_name(peer_cert: dict[str, Any] | None) -> str:
    for rdn in (peer_cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


@dataclasses.dataclass(frozen=True)
class Authentication:
    """Who sent a request (`user`, None when no credential admitted it), and whether it presented
    credentials that failed (`rejected`: an authentication error, never anonymous)."""

    user: str | None
    rejected: bool = False


def authenticate(peer_cert: dict[str, Any] | None, cert_verified: bool, authorization: str | None,
                 password: str) -> Authentication:
    """The union of the x509 and token authenticators over a request's credentials.

    >>> authenticate({"subject": ((("commonName", "system:admin"),),)}, False, None, "s3cret")
    Authentication(user=None, rejected=True)
    """
    if peer_cert and cert_verified and _common_name(peer_cert):
        return Authentication(_common_name(peer_cert))
    rejected = bool(peer_cert) and not cert_verified
    scheme, _, credential = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        presented = token_password(credential.strip())
        if hmac.compare_digest(presented.encode(), password.encode()):
            return Authentication("system:k3s-node-token")
        rejected = True
    return Authentication(None, rejected)


def anonymous_enabled(apiserver_args: Mapping[str, str]) -> bool:
    """kube-apiserver's `--anonymous-auth` as k3s sets it: false unless kube-apiserver-arg says true.

    >>> anonymous_enabled({"anonymous-auth": "true"})
    True
    """
    return apiserver_args.get("anonymous-auth", "false") in TRUE_VALUES


def anonymous_refusal(anonymous_auth: bool, method: str, path: str, query: Mapping[str, str]) -> ApiError | None:
    """Why a request without credentials is refused (401, or 403 for `system:anonymous`), or None
    when RBAC's public-info-viewer role admits it."""
    if not anonymous_auth:
        return errors.unauthorized()
    if method in ("GET", "HEAD") and path in PUBLIC_INFO_PATHS:
        return None
    return forbidden(ANONYMOUS, method, path, query)


def forbidden(user: str, method: str, path: str, query: Mapping[str, str]) -> ApiError:
    """responsewriters.Forbidden for `user`: apierrors.NewForbidden over the request's attributes."""
    parts = [part for part in path.split("/") if part]
    if not parts or parts[0] not in API_PREFIXES or len(parts) < API_PREFIXES[parts[0]]:
        return ApiError(403, "Forbidden", f'forbidden: User "{user}" cannot {method.lower()} path "{path}"', {})
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else ""
    shown = f"{resource}/{rest[2]}" if len(rest) > 2 else resource
    verb = METHOD_VERBS.get(method, "")
    if not name and verb == "get":
        verb = "watch" if query.get("watch") in ("true", "1") else "list"
    elif not name and verb == "delete":
        verb = "deletecollection"
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    reason = f'User "{user}" cannot {verb} resource "{shown}" in API group "{group}" {scope}'
    qualified = errors.qualified(resource, group)
    subject = f'{qualified} "{name}"' if name else qualified
    details = {key: value for key, value in (("name", name), ("group", group), ("kind", resource)) if value}
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {reason}", details)
