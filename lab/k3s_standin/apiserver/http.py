"""HTTPS front end: TLS that requests a client certificate and leaves its verification to the
authenticator (`client_cert_request.py`), routing of API paths to the verbs, content negotiation (JSON
or server-side Table) and Status errors; the health endpoints (`health.py`) and the `pods/log` proxy
to kubelets (`pod_logs.py`) are kube-apiserver paths.

k3s's own router sits in front of kube-apiserver on the port (k3s-io/k3s pkg/server/router.go
`router`, pkg/server/handlers/router.go `NewHandler` in later releases): only `/ping`, `/cacerts` and
`/static/` answer without credentials. The supervisor's routes (`/v1-k3s/...`: the node certificates
of `node_certs.py`, `/v1-k3s/server-bootstrap`; `/db/info` except to a local client, pkg/etcd/etcd.go
`handler` with auth.IsLocalOrHasRole) answer 403 "forbidden" to a request without credentials
(pkg/server/auth/auth.go `doAuth`). Every other path is kube-apiserver's, where a request without
credentials is refused or admitted as `auth.py` says, before routing.

Upstream: kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/endpoints (handlers, negotiation, responsewriters).

Example:
    server = ApiServer(("0.0.0.0", 6443), context, operations, password, ca_pem, "10.0.0.1:6443",
                       anonymous_auth=anonymous_enabled(options.kube_apiserver_args))
    threading.Thread(target=server.serve_forever, daemon=True).start()
"""

from __future__ import annotations

import http.server
import json
import select
import socket
import socketserver
import ssl
import sys
import time
import traceback
import urllib.parse
from collections.abc import Callable
from typing import Any

from k3s_standin.apiserver import discovery, errors, eviction, node_certs, openapi, pod_logs, protobuf, static
from k3s_standin.apiserver.auth import anonymous_refusal, authenticate
from k3s_standin.apiserver.errors import ApiError
from k3s_standin.apiserver.health import Health
from k3s_standin.apiserver.node_certs import NodeCertificates
from k3s_standin.apiserver.operations import Operations
from k3s_standin.apiserver.patch import JSON_PATCH, MERGE, STRATEGIC
from k3s_standin.apiserver.resources import Resource
from k3s_standin.apiserver.tables import to_table
from k3s_standin.apiserver.watch import watch_events
from k3s_standin.client_cert_request import verified

Obj = dict[str, Any]
# k3s pkg/etcd/etcd.go `handler`: /db/info admits local clients without credentials (auth.IsLocalOrHasRole)
LOCAL_OR_ROLE = frozenset({"/db/info"})
LOCAL_CLIENTS = ("127.0.0.1", "::1")
PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC)
HANDSHAKE_SECONDS = 10
IDLE_SECONDS = 300
# How long a stopping server lets requests already being answered finish before its storage goes
# (kube-apiserver waits up to --shutdown-timeout, 60 s; the stand-in's requests take milliseconds).
DRAIN_SECONDS = 1.0


class ApiServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Threaded HTTPS server; the TLS handshake runs in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, operations: Operations,
                 password: str, ca_pem: bytes, advertised: str,
                 supervisor: dict[str, Callable[[], Obj]] | None = None, static_dir: str = "",
                 kubelet_context: ssl.SSLContext | None = None,
                 node_certs: NodeCertificates | None = None, anonymous_auth: bool = False) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.context = context
        self.operations = operations
        self.password = password
        self.ca_pem = ca_pem
        self.advertised = advertised
        # k3s's supervisor routes that share the API port (HA servers: /db/info, server bootstrap)
        self.supervisor = supervisor or {}
        self.static_dir = static_dir
        # TLS to the kubelets for pods/log
        self.kubelet_context = kubelet_context
        # what agents fetch their kubelet's serving certificate and client CA from
        self.node_certs = node_certs
        # kube-apiserver's --anonymous-auth (k3s: false unless kube-apiserver-arg says otherwise)
        self.anonymous_auth = anonymous_auth
        self.health = Health(operations.store)
        self.stopping = False

    def stop_serving(self) -> None:
        """kube-apiserver's graceful termination (k8s.io/apiserver pkg/server/genericapiserver.go,
        `preparedGenericAPIServer.RunWithContext`): on SIGTERM it stops accepting connections
        (NotAcceptingNewRequest), closes idle ones and lets in-flight requests finish, and only then is
        its storage shut down. A client (or HAProxy, which redispatches a refused connection) meets a
        refused connection, never an answer from a server whose etcd member has already stopped."""
        self.stopping = True
        self.shutdown()
        self.server_close()
        time.sleep(DRAIN_SECONDS)

    def get_request(self) -> tuple[Any, Any]:
        connection, address = self.socket.accept()
        # headers and body leave in separate writes; Nagle + delayed ACK would add 40 ms to each answer
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Broken or refused connections are the client's business; keep the journal quiet."""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiServer
    timeout = IDLE_SECONDS

    def handle(self) -> None:
        """BaseHTTPRequestHandler's keep-alive loop, ended once the server is stopping (Go's
        http.Server.Shutdown closes idle connections; the client retries on a new one)."""
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection and not self.server.stopping:
            self.handle_one_request()

    def setup(self) -> None:
        self.request.settimeout(HANDSHAKE_SECONDS)
        self.request.do_handshake()
        # the x509 authenticator's answer, once per connection (its certificate cannot change)
        self.client_cert_verified = verified(self.request)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Access logging is off, like k3s's default apiserver verbosity."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # plumbing

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        try:
            body = self._read_body()
            if url.path.startswith(static.PREFIX) and self.server.static_dir:
                # Go's FileServer reads the decoded path: chart names such as traefik-27.0.201+up27.0.2.tgz
                answer = static.serve(self.server.static_dir, urllib.parse.unquote(url.path))
                return self._send_bytes(answer.code, answer.body, answer.content_type,
                                        {"Location": answer.location} if answer.location else None)
            if path == "/ping" and method == "GET":
                return self._send_text(200, "pong")
            if path == "/cacerts" and method == "GET":
                return self._send_bytes(200, self.server.ca_pem, "text/plain")
            if path in node_certs.PATHS and method == "GET" and self.server.node_certs:
                answer = self.server.node_certs.serve(path, self.headers)
                return self._send_bytes(answer.code, answer.body, answer.content_type)
            found = authenticate(self.connection.getpeercert(), self.client_cert_verified,
                                 self.headers.get("Authorization"), self.server.password)
            if path in self.server.supervisor and method == "GET":
                if found.user is None and not (path in LOCAL_OR_ROLE and self.client_address[0] in LOCAL_CLIENTS):
                    raise ApiError(403, "Forbidden", "forbidden")  # k3s's auth.go doAuth
                return self._send_json(200, self.server.supervisor[path]())
            if found.user is None:
                refusal = anonymous_refusal(self.server.anonymous_auth and not found.rejected, method, url.path,
                                            query)
                if refusal is not None:
                    raise refusal
            health = self.server.health.answer(path, url.query) if method == "GET" else None
            if health is not None:
                return self._send_bytes(health.code, health.body, health.content_type,
                                        {"X-Content-Type-Options": "nosniff"})
            if path == "/version" and method == "GET":
                return self._send_json(200, discovery.version())
            self._route(method, path, query, body)
        except ApiError as error:
            self._send_json(error.code, error.status(), retry_after(error))
        except (ConnectionError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception as error:  # a bug must answer 500 like kube-apiserver, not drop the connection
            traceback.print_exc(file=sys.stderr)
            self._send_json(500, ApiError(500, "InternalError",
                                          f"Internal error occurred: {error}").status())

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type == protobuf.CONTENT_TYPE:
            return protobuf.decode(raw)
        if content_type not in ("", "application/json", "*/*", *PATCH_TYPES):
            raise errors.unsupported_media_type(["application/json", protobuf.CONTENT_TYPE, *PATCH_TYPES])
        try:
            return json.loads(raw)
        except ValueError as error:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {error}") from error

    def _send_bytes(self, code: int, data: bytes, content_type: str,
                    headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_text(self, code: int, text: str) -> None:
        self._send_bytes(code, text.encode(), "text/plain; charset=utf-8")

    def _send_json(self, code: int, obj: Obj, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(code, json.dumps(obj, separators=(",", ":")).encode(), "application/json", headers)

    def _wants_table(self) -> bool:
        accept = self.headers.get("Accept", "")
        first = accept.split(",")[0]
        return "as=Table" in first and "g=meta.k8s.io" in first

    # routing

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if parts == ["api"]:
            return self._send_json(200, discovery.api_versions(self.server.advertised))
        registry = self.server.operations.registry
        if parts == ["apis"]:
            return self._send_json(200, discovery.group_list(registry))
        if parts == ["openapi", "v2"] and method == "GET":
            return self._send_bytes(200, openapi.V2_DOCUMENT, openapi.V2_CONTENT_TYPE)
        if parts[:2] == ["openapi", "v3"] and method == "GET":
            found = openapi.index(registry) if len(parts) == 2 else openapi.document(registry, "/".join(parts[2:]))
            if found is None:
                raise errors.resource_not_found()
            return self._send_json(200, found)
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) == 2:
            found = discovery.group(registry, parts[1])
            if found is None:
                raise errors.resource_not_found()
            return self._send_json(200, found)
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.resource_not_found()
        if not rest:
            listing = discovery.resource_list(registry, group, version)
            if listing is None or method != "GET":
                raise errors.resource_not_found()
            return self._send_json(200, listing)
        self._resource_request(method, group, version, rest, query, body)

    def _resource_request(self, method: str, group: str, version: str, rest: list[str],
                          query: dict[str, str], body: Any) -> None:
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and rest[2] in ("status",)):
            namespace, rest = rest[1], rest[2:]
        resource = self.server.operations.registry.lookup(group, version, rest[0])
        if resource is None or len(rest) > 3 or (namespace and not resource.namespaced):
            raise errors.resource_not_found()
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if subresource and subresource not in resource.subresources:
            raise errors.resource_not_found()
        if name:
            self._item(method, resource, namespace, name, subresource, query, body)
        else:
            self._collection(method, resource, namespace, query, body)

    def _collection(self, method: str, resource: Resource, namespace: str, query: dict[str, str],
                    body: Any) -> None:
        ops = self.server.operations
        if method == "GET" and query.get("watch") in ("true", "1"):
            return self._watch(resource, namespace, query)
        if method == "GET":
            items, revision = ops.list(resource, namespace, query.get("labelSelector", ""),
                                       query.get("fieldSelector", ""))
            return self._send_list(resource, items, revision, query)
        if method == "POST" and resource.kind == "Binding":
            name = ((body or {}).get("metadata") or {}).get("name", "")
            return self._send_json(201, ops.bind(namespace, name, body))
        if method == "POST":
            return self._send_json(201, ops.create(resource, namespace, body, dry_run=query.get("dryRun") == "All"))
        if method == "DELETE":
            items, revision = ops.list(resource, namespace, query.get("labelSelector", ""),
                                       query.get("fieldSelector", ""))
            options = {**_delete_options(query), **(body or {})}
            for obj in items:
                ops.delete(resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], options)
            return self._send_list(resource, items, revision, query)
        raise errors.method_not_allowed()

    def _item(self, method: str, resource: Resource, namespace: str, name: str, subresource: str,
              query: dict[str, str], body: Any) -> None:
        ops = self.server.operations
        if subresource in ("binding", "eviction"):
            if method != "POST":
                raise errors.method_not_allowed()
            if subresource == "binding":
                return self._send_json(201, ops.bind(namespace, name, body))
            return self._send_json(201, eviction.evict(ops, namespace, name, body))
        if subresource == "scale":
            return self._scale(method, resource, namespace, name, body)
        if subresource == "log":
            if method != "GET":
                raise errors.method_not_allowed()
            return self._pod_log(namespace, name, query)
        if method == "GET":
            obj = ops.get(resource, namespace, name)
            if self._wants_table() and not subresource:
                return self._send_json(200, to_table(resource, [obj], obj["metadata"]["resourceVersion"],
                                                     query.get("includeObject", "Metadata")))
            return self._send_json(200, obj)
        if method == "PUT":
            return self._send_json(200, ops.update(resource, namespace, name, body, subresource))
        if method == "PATCH":
            return self._send_json(200, ops.patch(resource, namespace, name, body, self._patch_type(),
                                                  subresource))
        if method == "DELETE" and not subresource:
            result = ops.delete(resource, namespace, name, {**_delete_options(query), **(body or {})})
            pending = result.get("kind") != "Status" and bool(result["metadata"].get("deletionTimestamp")) \
                and ops.store.get(resource.key, namespace, name) is not None
            return self._send_json(202 if pending else 200, result)
        raise errors.method_not_allowed()

    def _scale(self, method: str, resource: Resource, namespace: str, name: str, body: Any) -> None:
        ops = self.server.operations
        if method == "GET":
            return self._send_json(200, ops.scale(resource, namespace, name))
        if method == "PUT":
            return self._send_json(200, ops.update_scale(resource, namespace, name, body))
        if method == "PATCH":
            return self._send_json(200, ops.update_scale(resource, namespace, name, body,
                                                         self._patch_type()))
        raise errors.method_not_allowed()

    def _pod_log(self, namespace: str, name: str, query: dict[str, str]) -> None:
        """Stream the kubelet's answer through as it arrives (so `follow` works too)."""
        url = pod_logs.location(self.server.operations, namespace, name, query)
        if url is None:
            return self._send_bytes(200, b"", "text/plain")
        if self.server.kubelet_context is None:
            raise errors.ApiError(500, "", "no kubelet client configured")
        response = pod_logs.open_stream(url, self.server.kubelet_context, name)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while chunk := response.read1(65536):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (OSError, ssl.SSLError):
            self.close_connection = True
        finally:
            response.close()

    def _patch_type(self) -> str:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type not in PATCH_TYPES:
            raise errors.unsupported_media_type(list(PATCH_TYPES))
        return content_type

    def _send_list(self, resource: Resource, items: list[Obj], revision: int,
                   query: dict[str, str]) -> None:
        if self._wants_table():
            return self._send_json(200, to_table(resource, items, str(revision),
                                                 query.get("includeObject", "Metadata")))
        if resource.builtin:
            items = [{k: v for k, v in obj.items() if k not in ("kind", "apiVersion")} for obj in items]
        self._send_json(200, {"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                              "metadata": {"resourceVersion": str(revision)}, "items": items})

    def _watch(self, resource: Resource, namespace: str, query: dict[str, str]) -> None:
        table = self._wants_table()
        include = query.get("includeObject", "Metadata")
        events = watch_events(self.server.operations, resource, namespace, query)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def write(event: Obj) -> None:
            obj = event["object"]
            if table and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                event = {"type": event["type"],
                         "object": to_table(resource, [obj], obj["metadata"]["resourceVersion"], include)}
            data = json.dumps(event, separators=(",", ":")).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            for event in events:
                if event is not None:
                    write(event)
                elif self._client_gone():
                    break
            else:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, ssl.SSLError):
            pass
        self.close_connection = True

    def _client_gone(self) -> bool:
        """A watch client that hung up makes its socket readable with EOF."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        timeout = self.connection.gettimeout()
        self.connection.setblocking(False)
        try:
            return self.connection.recv(1) == b""
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        except OSError:
            return True
        finally:
            self.connection.settimeout(timeout)


def retry_after(error: ApiError) -> dict[str, str]:
    """The Retry-After header of an error whose details suggest a delay (k8s.io/apiserver
    pkg/endpoints/handlers/responsewriters/writers.go `ErrorNegotiated`)."""
    seconds = (error.details or {}).get("retryAfterSeconds") or 0
    return {"Retry-After": str(seconds)} if seconds > 0 else {}


def _delete_options(query: dict[str, str]) -> Obj:
    options: Obj = {}
    if query.get("gracePeriodSeconds"):
        options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
    if query.get("propagationPolicy"):
        options["propagationPolicy"] = query["propagationPolicy"]
    if query.get("dryRun"):
        options["dryRun"] = [query["dryRun"]]
    return options
