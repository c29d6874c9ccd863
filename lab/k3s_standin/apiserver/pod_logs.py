"""`GET /api/v1/namespaces/<ns>/pods/<name>/log`: proxied to the kubelet of the pod's node.

Upstream: kubernetes/kubernetes pkg/registry/core/pod/strategy.go (`LogLocation`, `validateContainer`:
"a container name must be specified for pod <name>, choose one of: [a b]", "container <c> is not
valid for pod <name>"; a pod not on a node yet answers an empty log),
pkg/registry/core/pod/rest/log.go and staging/src/k8s.io/apiserver/pkg/registry/generic/rest/
streamer.go + response_checker.go (the kubelet's 400 becomes BadRequest with its text, 500 an
InternalError, anything else a generic error), pkg/kubelet/client/kubelet_client.go (node address
by `kubelet-preferred-address-types`, k3s: InternalIP,ExternalIP,Hostname; port from
`status.daemonEndpoints.kubeletEndpoint.Port`, default 10250). k3s pkg/daemons/control/server.go
gives kube-apiserver `kubelet-certificate-authority` = the server CA and `kubelet-client-certificate`
= `client-kube-apiserver.crt` (CN system:kube-apiserver, from the client CA). "container ... is
waiting to start: ..." is the kubelet's own answer (400, pkg/kubelet/kubelet_pods.go
`validateContainerLogStatus`), passed through as the apiserver does.

Example:
    url = location(operations, "kube-system", "helm-install-traefik-x2z4k", {"tailLines": "1"})
    response = open_stream(url, kubelet_context, "helm-install-traefik-x2z4k")
"""

from __future__ import annotations

import http.client
import ssl
import urllib.parse
from typing import Any

from k3s_standin.apiserver.errors import ApiError, bad_request
from k3s_standin.apiserver.resources import REGISTRY

Obj = dict[str, Any]
PODS = REGISTRY.lookup("", "v1", "pods")
NODES = REGISTRY.lookup("", "v1", "nodes")
ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")
DEFAULT_KUBELET_PORT = 10250
PASSED_OPTIONS = ("follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "tailLines", "limitBytes")
TIMEOUT_SECONDS = 30


def kubelet_context(server_ca: str, client_cert: str, client_key: str) -> ssl.SSLContext:
    """TLS to kubelets: their serving certificate checked against the server CA, our client cert."""
    context = ssl.create_default_context(cafile=server_ca)
    context.load_cert_chain(client_cert, client_key)
    return context


def location(operations: Any, namespace: str, name: str, query: dict[str, str]) -> str | None:
    """The kubelet URL of the pod's container log; None while the pod has no node."""
    pod = operations.get(PODS, namespace, name)
    container = _container(pod, query.get("container", ""))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        return None
    node = operations.get(NODES, "", node_name)
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = next((addresses[kind] for kind in ADDRESS_TYPES if addresses.get(kind)), None)
    if host is None:
        raise ApiError(500, "", f"no preferred addresses found; known addresses: {status.get('addresses') or []}")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_KUBELET_PORT
    params = urllib.parse.urlencode(sorted((k, v) for k, v in query.items() if k in PASSED_OPTIONS
                                           and v not in ("", "false")))
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"https://{netloc}/containerLogs/{namespace}/{name}/{container}" + (f"?{params}" if params else "")


def _container(pod: Obj, container: str) -> str:
    spec, name = pod.get("spec") or {}, pod["metadata"]["name"]
    names = [c.get("name", "") for field in ("initContainers", "containers", "ephemeralContainers")
             for c in spec.get(field) or []]
    if container:
        if container not in names:
            raise bad_request(f"container {container} is not valid for pod {name}")
        return container
    containers = spec.get("containers") or []
    if len(containers) == 1:
        return containers[0]["name"]
    if not containers:
        raise bad_request(f"a container name must be specified for pod {name}")
    raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")


def open_stream(url: str, context: ssl.SSLContext, pod_name: str) -> http.client.HTTPResponse:
    """GET the kubelet; a 2xx response is returned for streaming, anything else raised as the apiserver does."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=TIMEOUT_SECONDS)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path)
        response = conn.getresponse()
    except (OSError, http.client.HTTPException) as error:
        conn.close()
        raise ApiError(500, "", f'Get "{url}": {_go_error(parts, error)}') from error
    if 200 <= response.status <= 206:
        return response
    text = response.read(4096).decode(errors="replace")
    conn.close()
    raise _checked(response.status, text, pod_name)


def _go_error(parts: urllib.parse.SplitResult, error: BaseException) -> str:
    """How Go's net/http words the common dial failures."""
    address = parts.netloc
    if isinstance(error, ConnectionRefusedError):
        return f"dial tcp {address}: connect: connection refused"
    if isinstance(error, TimeoutError):
        return f"dial tcp {address}: i/o timeout"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: {error.verify_message}"
    return str(error)


def _checked(code: int, text: str, pod_name: str) -> ApiError:
    """GenericHttpResponseChecker.Check for `pods/log`."""
    if code == 500:
        return ApiError(500, "InternalError", f"Internal error occurred: {text}", {"causes": [{"message": text}]})
    if code == 400:
        return bad_request(text)
    reason, message = ("NotFound", "the server could not find the requested resource") if code == 404 else \
        ("", f"the server responded with the status code {code} but did not return more information")
    return ApiError(code, reason, f"{message} ( pods/log {pod_name})",
                    {"name": pod_name, "kind": "pods/log", "causes": [{"message": text}]})
