"""All of one fact's Kubernetes API reads over one HTTPS connection, run on a k3s server as one
``python3 -c`` (standard library only: Proxmox's debian-12-standard template has python3, no curl),
printing each read's text after a ``### <section>`` line for the fact's parser.

Each ``k3s kubectl`` run is a process start, discovery and a request (about 0.08 s on the lab, a Go
start on real k3s); a chart's status took eight of them in sequence. Here one process asks the
local apiserver directly, with k3s's admin client certificate
(``server/tls/client-admin.crt``/``.key`` and ``server-ca.crt``, which k3s-io/k3s
pkg/daemons/control/deps/deps.go writes on every server and embeds in the admin kubeconfig), at
the ``server:`` of ``/etc/rancher/k3s/k3s.yaml`` (k3s writes ``https://127.0.0.1:<https-listen-port>``
there, pkg/cli/server/server.go, whichever config source set the port).

This file must not import the project: it is sent as program text.

    python3 -c "$(cat kube_reads.py)" '{"api": {...}, "reads": [{"read": "readyz", "section": "api"}]}'
    ### api
    ok

Secret-free output (a failing fact prints it): objects are cut to kind, metadata names and times,
``spec.replicas``/``nodeName`` and status; a HelmChart to its name and status; of a TLS Secret only
``tls.crt`` and the annotations are printed. Nothing secret is on the command line.

Errors are one line in the section that met them: ``Kubernetes API https://127.0.0.1:6443: ...``
for a server that does not answer (no further request is tried), ``Kubernetes API GET <path>: 403
Forbidden: <message>`` for a refused request; a missing object is an empty section.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import sys
import urllib.parse
from typing import Any

TIMEOUT_SECONDS = 10
# As HAProxy's check and verify's ping wait for Rancher.
PING_TIMEOUT_SECONDS = 5
MARK = "### "
# How every line about an API that failed begins (the parsers tell errors from answers by it).
FAILED = "Kubernetes API"
Obj = dict[str, Any]


class ApiError(Exception):
    """A request the API refused (``status`` set) or a server that did not answer (``status`` 0)."""

    def __init__(self, line: str, status: int = 0, reason: str = "", message: str = "") -> None:
        super().__init__(line)
        self.status, self.reason, self.message = status, reason, message


class _Connection(http.client.HTTPSConnection):
    """HTTPS to ``address`` with SNI ``server_name``: the API's own address, or Rancher's hostname
    sent to Traefik's ClusterIP."""

    def __init__(self, address: str, port: int, server_name: str, context: ssl.SSLContext,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self.server_name, self.tls = server_name, context

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.server_name)


def server_url(kubeconfig: str) -> str:
    """The ``server:`` of k3s's admin kubeconfig (only that line is read into the result).

    Example:
        server_url("/etc/rancher/k3s/k3s.yaml")   # "https://127.0.0.1:6443"
    """
    with open(kubeconfig) as lines:
        for line in lines:
            key, _, value = line.strip().partition(":")
            if key == "server":
                return value.strip().strip("'\"")
    raise OSError("no server: in %s" % kubeconfig)


class Api:
    """One kept-alive HTTPS connection to the apiserver named by ``settings`` (``kubeconfig``,
    ``tls_dir``), opened at the first request; GETs answered once per run; after the server failed to
    answer (or its credentials could not be read), every later request fails with the same line at once."""

    def __init__(self, settings: Obj) -> None:
        self.settings = settings
        self.url = ""
        self.connection: _Connection | None = None
        self.down = ""
        self.answers: dict[str, Any] = {}

    def open(self) -> _Connection:
        if self.connection is None:
            try:
                self.url = server_url(self.settings["kubeconfig"])
                tls_dir = self.settings["tls_dir"]
                context = ssl.create_default_context(cafile=os.path.join(tls_dir, "server-ca.crt"))
                context.load_cert_chain(os.path.join(tls_dir, "client-admin.crt"),
                                        os.path.join(tls_dir, "client-admin.key"))
            except (OSError, ssl.SSLError) as error:
                self.down = FAILED + " credentials: %s" % error
                raise ApiError(self.down) from None
            parts = urllib.parse.urlsplit(self.url)
            self.connection = _Connection(parts.hostname or "", parts.port or 443, parts.hostname or "", context)
        return self.connection

    def call(self, method: str, path: str, body: Obj | None = None) -> bytes:
        """The body of a 2xx answer; raises ApiError."""
        if self.down:
            raise ApiError(self.down)
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if payload else {})}
        connection = self.open()
        for attempt in (1, 2):
            try:
                connection.request(method, path, payload, headers)
                answer = connection.getresponse()
                data = answer.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                # a kept-alive connection the server closed meanwhile: once more on a new one
                connection.close()
                if attempt == 2:
                    self.down = "%s %s: %s" % (FAILED, self.url, error or type(error).__name__)
            except socket.timeout:
                self.down = "%s %s: no answer within %d s" % (FAILED, self.url, TIMEOUT_SECONDS)
            except (OSError, http.client.HTTPException) as error:
                self.down = "%s %s: %s" % (FAILED, self.url, error)
            if self.down:
                raise ApiError(self.down)
        if answer.status >= 300:
            raise refused(method, path, answer.status, answer.reason, data)
        return data

    def get(self, path: str) -> Any:
        """A GET's JSON, asked once per run."""
        if path not in self.answers:
            self.answers[path] = json.loads(self.call("GET", path))
        return self.answers[path]


def refused(method: str, path: str, status: int, phrase: str, data: bytes) -> ApiError:
    """The API's ``Status`` answer as one line: ``Kubernetes API GET <path>: 403 Forbidden: <message>``."""
    try:
        found = json.loads(data)
        reason, message = found.get("reason") or phrase, found.get("message") or ""
    except ValueError:
        reason, message = phrase, data.decode(errors="replace").strip()
    line = "%s %s %s: %d %s" % (FAILED, method, path.partition("?")[0], status, phrase)
    return ApiError(line + (": " + message.splitlines()[0] if message else ""), status, reason, message)


def as_kubectl_says(error: ApiError) -> str:
    """A request the API refused, worded as kubectl prints it (``Error from server (<reason>):
    <message>``); a server that did not answer stays an error."""
    if not error.status:
        raise error
    return "Error from server (%s): %s" % (error.reason, error.message)


def summary(obj: Obj, kind: str) -> Obj:
    """What the parsers read of an object, nothing of its spec's contents (a pod's env may hold secrets)."""
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    kept = ("name", "namespace", "creationTimestamp", "deletionTimestamp", "generation")
    return {"kind": kind, "metadata": {key: metadata[key] for key in kept if key in metadata},
            "spec": {key: spec[key] for key in ("replicas", "nodeName") if key in spec},
            "status": obj.get("status") or {}}


def with_selector(path: str, selector: str) -> str:
    return path + ("?" + urllib.parse.urlencode({"labelSelector": selector}) if selector else "")


def listed(api: Api, read: Obj) -> list[Obj]:
    """Every object of ``paths`` (collections, with ``selector``), each with its kind as kubectl prints it."""
    found = []
    for path in read["paths"]:
        answer = api.get(with_selector(path, read.get("selector", "")))
        kind = (answer.get("kind") or "").rsplit("List", 1)[0]
        found += [summary(obj, kind) for obj in answer.get("items") or []]
    return found


def read_list(api: Api, read: Obj) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": listed(api, read)}, separators=(",", ":"))


def absent_as_empty(api: Api, path: str) -> Obj | None:
    try:
        return api.get(path)
    except ApiError as error:
        if error.status == 404:
            return None
        raise


def read_status(api: Api, read: Obj) -> str:
    """``<name>`` then its status JSON (``kubectl get -o jsonpath={.metadata.name}{"\\n"}{.status}``)."""
    found = absent_as_empty(api, read["path"])
    if found is None:
        return ""
    return "%s\n%s" % (found["metadata"]["name"], json.dumps(found.get("status") or {}, separators=(",", ":")))


def read_exists(api: Api, read: Obj) -> str:
    found = absent_as_empty(api, read["path"])
    return "" if found is None else found["metadata"]["name"]


def read_certificate(api: Api, read: Obj) -> str:
    """A TLS Secret's ``tls.crt`` (base64) and annotations; its key is dropped unread."""
    found = absent_as_empty(api, read["path"])
    if found is None:
        return ""
    annotations = (found.get("metadata") or {}).get("annotations") or {}
    return "%s\n%s" % ((found.get("data") or {}).get("tls.crt", ""), json.dumps(annotations, separators=(",", ":")))


def read_log(api: Api, read: Obj) -> str:
    """The last ``tail`` lines of the newest pod's log, as ``kubectl logs --tail`` prints them; a
    refused request as kubectl says it (``Error from server (BadRequest): container ... is waiting to start``)."""
    pods = sorted(listed(api, read), key=lambda pod: pod["metadata"].get("creationTimestamp") or "")
    if not pods:
        return ""
    namespace, name = pods[-1]["metadata"].get("namespace", ""), pods[-1]["metadata"]["name"]
    path = "/api/v1/namespaces/%s/pods/%s/log?tailLines=%d" % (namespace, name, read["tail"])
    try:
        return api.call("GET", path).decode(errors="replace")
    except ApiError as error:
        return as_kubectl_says(error)


def read_nodes(api: Api, read: Obj) -> str:
    """``name<TAB>Ready status<TAB>taints JSON`` per node (no taints: nothing after the tab)."""
    lines = []
    for node in api.get("/api/v1/nodes").get("items") or []:
        ready = next((c.get("status", "") for c in (node.get("status") or {}).get("conditions") or []
                      if c.get("type") == "Ready"), "")
        taints = (node.get("spec") or {}).get("taints")
        lines.append("%s\t%s\t%s" % (node["metadata"]["name"], ready, json.dumps(taints) if taints else ""))
    return "\n".join(lines)


def read_readyz(api: Api, read: Obj) -> str:
    return api.call("GET", "/readyz").decode(errors="replace").strip()


def resource_of(api: Api, group_version: str, kind: str) -> str:
    """The resource serving ``kind``, from discovery as kubectl's RESTMapper finds it; a group or kind
    not served is apimachinery's NoKindMatchError wording (pkg/api/meta/errors.go)."""
    missing = 'error: no matches for kind "%s" in version "%s": ensure CRDs are installed first' % (kind, group_version)
    found = absent_as_empty(api, "/apis/" + group_version)
    for resource in (found or {}).get("resources") or []:
        if resource.get("kind") == kind and "/" not in resource.get("name", ""):
            return resource["name"]
    raise ApiError(missing)


def read_dry_run(api: Api, read: Obj) -> str:
    """A server-side dry-run create (``?dryRun=All``: admission and webhooks run, nothing is stored),
    answered as ``kubectl create --dry-run=server`` prints it (``<kind>.<group>/<name> created (server
    dry run)``, or ``Error from server (<reason>): <message>``)."""
    body = read["body"]
    group_version, kind = body["apiVersion"], body["kind"]
    try:
        resource = resource_of(api, group_version, kind)
    except ApiError as error:
        return str(error)
    path = "/apis/%s/namespaces/%s/%s?dryRun=All" % (group_version, body["metadata"]["namespace"], resource)
    try:
        api.call("POST", path, body)
    except ApiError as error:
        return as_kubectl_says(error)
    return "%s.%s/%s created (server dry run)" % (kind.lower(), group_version.split("/")[0], body["metadata"]["name"])


def read_ping(api: Api, read: Obj) -> str:
    """The body of Rancher's ``/ping`` sent to a Service's ClusterIP with SNI and Host ``hostname``, as
    HAProxy's check sends it (``scheme`` ``http``: TLS ended before); ``absent`` when there is no Service."""
    service = absent_as_empty(api, read["service"])
    if service is None:
        return read["absent"]
    address, port = (service.get("spec") or {}).get("clusterIP", ""), int(read["port"])
    if read["scheme"] == "http":
        connection: http.client.HTTPConnection = http.client.HTTPConnection(address, port, PING_TIMEOUT_SECONDS)
    else:
        context = ssl.create_default_context()
        # Reachability, not trust: verify/ checks trust through HAProxy, against the CA the mode implies.
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        connection = _Connection(address, port, read["hostname"], context, PING_TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/ping", headers={"Host": read["hostname"]})
        return connection.getresponse().read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as error:
        return "no answer: %s" % error
    finally:
        connection.close()


def read_mtime(api: Api, read: Obj) -> str:
    """A file's modification time in seconds (``stat -c %Y``); nothing when it is absent."""
    try:
        return str(int(os.stat(read["path"]).st_mtime))
    except OSError:
        return ""


READS = {"list": read_list, "status": read_status, "exists": read_exists, "certificate": read_certificate,
         "log": read_log, "nodes": read_nodes, "readyz": read_readyz, "dry_run": read_dry_run,
         "ping": read_ping, "mtime": read_mtime}


def run(request: Obj) -> str:
    """Every read's section, in order; an error is the one line of its section."""
    api, out = Api(request["api"]), []
    for read in request["reads"]:
        try:
            text = READS[read["read"]](api, read)
        except ApiError as error:
            text = str(error)
        except ValueError as error:
            text = "%s answer not JSON: %s" % (FAILED, error)
        out += [MARK + read["section"], text.rstrip("\n")]
    return "\n".join(out) + "\n"


def command(api: Obj, reads: list[Obj]) -> str:
    """This file as ``python3 -c <source> <request JSON>``, one shell command line (called where the
    project is, never on the host); ``api`` is ``facts.names.KUBE_API`` on a k3s server.

    Example:
        command(KUBE_API, [{"read": "readyz", "section": "api"}])
    """
    from facts.python3_program import python3_command

    return python3_command(__file__, json.dumps({"api": api, "reads": reads}, separators=(",", ":")))


if __name__ == "__main__":
    sys.stdout.write(run(json.loads(sys.argv[1])))
