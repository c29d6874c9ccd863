"""Tiny Kubernetes REST client (standard library only) used by the stand-in's node side and controllers.

It speaks the real wire format over HTTPS with CA verification and a bearer token, exactly as any
other API client would, so the controllers exercise the same API surface as kubectl does.

Example:
    api = Client("https://127.0.0.1:6443", "/var/lib/rancher/k3s/agent/server-ca.crt", token)
    node = api.get(path("v1", "nodes", name="k3s-worker-1"))
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class ApiError(Exception):
    """A non-2xx answer from the API server, carrying its HTTP code and `Status` reason."""

    def __init__(self, code: int, status: Obj | None, method: str, url: str) -> None:
        self.code = code
        self.status = status or {}
        self.reason = str(self.status.get("reason", ""))
        message = self.status.get("message") or http.client.responses.get(code, "error")
        super().__init__(f"{method} {url}: {code} {message}")


def path(api: str, resource: str, namespace: str | None = None, name: str | None = None,
         subresource: str | None = None) -> str:
    """Build a resource path: `path("apps/v1", "deployments", "default", "web")`."""
    parts = ["/api/v1" if api == "v1" else f"/apis/{api}"]
    if namespace:
        parts += ["namespaces", namespace]
    parts.append(resource)
    if name:
        parts.append(name)
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


def object_path(api: str, resource: str, obj: Obj, subresource: str | None = None) -> str:
    """Path of an existing object, from its metadata."""
    meta = obj["metadata"]
    return path(api, resource, meta.get("namespace"), meta["name"], subresource)


class Client:
    """HTTPS JSON client with one keep-alive connection per thread."""

    def __init__(self, server: str, ca_file: str, token: str, timeout: float = 30.0) -> None:
        url = urllib.parse.urlsplit(server)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 443
        self.token = token
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=ca_file)
        self.local = threading.local()

    def connection(self, timeout: float | None = None) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                           timeout=timeout or self.timeout)

    def request(self, method: str, url: str, body: Any = None,
                content_type: str = "application/json") -> Obj:
        """Send one request; return the decoded JSON answer or raise `ApiError`."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None) or self.connection()
            self.local.conn = conn
            try:
                conn.request(method, url, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the server closed is retried once on a fresh one.
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        if response.will_close:
            conn.close()
            self.local.conn = None
        decoded = json.loads(payload) if payload else {}
        if response.status >= 300:
            raise ApiError(response.status, decoded if isinstance(decoded, dict) else None, method, url)
        return decoded

    def get(self, url: str, **params: str) -> Obj:
        return self.request("GET", with_query(url, params))

    def find(self, url: str) -> Obj | None:
        """GET that answers None for 404."""
        try:
            return self.get(url)
        except ApiError as error:
            if error.code == 404:
                return None
            raise

    def list(self, url: str, **params: str) -> list[Obj]:
        return list(self.get(url, **params).get("items") or [])

    def create(self, url: str, obj: Obj) -> Obj:
        return self.request("POST", url, obj)

    def update(self, url: str, obj: Obj) -> Obj:
        return self.request("PUT", url, obj)

    def patch(self, url: str, body: Any, content_type: str = MERGE_PATCH) -> Obj:
        return self.request("PATCH", url, body, content_type)

    def delete(self, url: str, missing_ok: bool = True, grace: int | None = None) -> Obj | None:
        """DELETE; `grace=0` is how a kubelet confirms a terminating pod is gone."""
        options = None if grace is None else {"kind": "DeleteOptions", "apiVersion": "v1",
                                              "gracePeriodSeconds": grace}
        try:
            return self.request("DELETE", url, options)
        except ApiError as error:
            if error.code == 404 and missing_ok:
                return None
            raise

    def mutate(self, url: str, change: Callable[[Obj], bool], attempts: int = 5) -> Obj | None:
        """Read-modify-write with optimistic concurrency: retry on 409 Conflict.

        `change` edits the object in place and returns False when nothing needs writing.
        `url` may name a subresource (`.../status`); the object is read from its parent path.
        """
        read_url = url.removesuffix("/status")
        for attempt in range(attempts):
            obj = self.find(read_url)
            if obj is None or not change(obj):
                return obj
            try:
                return self.update(url, obj)
            except ApiError as error:
                if error.code != 409 or attempt == attempts - 1:
                    raise
        return None

    def watch(self, url: str, resource_version: str = "", timeout_seconds: int = 300,
              **params: str) -> Iterator[Obj]:
        """Yield watch events (`{"type": ..., "object": ...}`) until the server ends the stream."""
        query = dict(params, watch="true", timeoutSeconds=str(timeout_seconds))
        if resource_version:
            query["resourceVersion"] = resource_version
        conn = self.connection(timeout=timeout_seconds + 30)
        try:
            conn.request("GET", with_query(url, query),
                         headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"})
            response = conn.getresponse()
            if response.status >= 300:
                payload = response.read()
                raise ApiError(response.status, json.loads(payload) if payload else None, "GET", url)
            for line in response:
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()


def serves_kind(api: Client, api_version: str, kind: str) -> bool:
    """Whether the server serves `kind` in `api_version`, read from discovery as a RESTMapper does.

    Example:
        if not serves_kind(api, "cert-manager.io/v1", "Issuer"): print(no_kind_match("cert-manager.io/v1", "Issuer"))
    """
    listing = api.find("/api/v1" if api_version == "v1" else f"/apis/{api_version}")
    return any(r.get("kind") == kind and "/" not in r.get("name", "") for r in (listing or {}).get("resources") or [])


def no_kind_match(api_version: str, kind: str) -> str:
    """apimachinery's NoKindMatchError text (pkg/api/meta/errors.go), which kubectl and helm print."""
    return f'no matches for kind "{kind}" in version "{api_version}"'


def with_query(url: str, params: dict[str, str]) -> str:
    clean = {key: value for key, value in params.items() if value not in (None, "")}
    return f"{url}?{urllib.parse.urlencode(clean)}" if clean else url


def fetch_ca(server: str, token: str, timeout: float = 10.0) -> bytes:
    """Fetch the cluster CA from the unauthenticated `/cacerts` endpoint and check it against
    the `K10<sha256>::` prefix of a full token, as k3s agents do before trusting the server."""
    url = urllib.parse.urlsplit(server)
    insecure = ssl.create_default_context()
    # The CA is not known yet: the hash in the token is what makes the answer trustworthy.
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(url.hostname or "127.0.0.1", url.port or 443,
                                       context=insecure, timeout=timeout)
    try:
        conn.request("GET", "/cacerts")
        response = conn.getresponse()
        pem = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise OSError(f"{server}/cacerts answered {response.status}")
    if token.startswith("K10") and "::" in token:
        expected = token[3:token.index("::")]
        if hashlib.sha256(pem).hexdigest() != expected:
            raise OSError(f"{server}/cacerts: CA hash does not match the token")
    return pem


def connect(server: str, token: str, ca_path: str, retry_seconds: float = 2.0,
            log: Callable[[str], None] | None = None) -> Client:
    """Fetch and save the CA (0644 like k3s), waiting for the server to come up, then return a client."""
    while True:
        try:
            pem = fetch_ca(server, token)
            break
        except OSError as error:
            if log:
                log(f"Waiting to retrieve agent configuration; server is not ready: {error}")
            time.sleep(retry_seconds)
    save_ca(ca_path, pem)
    return Client(server, ca_path, token)


def save_ca(ca_path: str, pem: bytes) -> None:
    """Write the CA through a temporary file and a rename: `k3s server`'s controllers and its kubelet
    connect at the same time, and a truncate-then-write let one of them load an empty CA file
    ("NO_CERTIFICATE_OR_CRL_FOUND", the controllers then failed to start)."""
    directory = os.path.dirname(ca_path)
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".server-ca-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.chmod(temporary, 0o644)
    os.replace(temporary, ca_path)


def for_options(options: Any, log: Callable[[str], None] | None = None) -> Client:
    """The API client of a k3s process: the local API with the server's own token in `k3s server`,
    the `--server` URL with the join token in `k3s agent`; the CA is always taken from `/cacerts`
    and checked against the token, as k3s agents (also the server's embedded one) do."""
    if options.role == "server":
        server = f"https://127.0.0.1:{options.https_listen_port}"
        with open(os.path.join(options.data_dir, "server", "token"), encoding="utf-8") as handle:
            token = handle.read().strip()
    else:
        server, token = options.server, options.token
    return connect(server, token, os.path.join(options.data_dir, "agent", "server-ca.crt"), log=log)
