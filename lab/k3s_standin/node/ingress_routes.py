"""What Traefik's Kubernetes Ingress provider makes of the cluster's Ingresses: routes (host, path,
ready endpoints of the backend Service) and the TLS certificates of their `tls` Secrets. The kubelet
computes them and writes them into the Traefik pod's shim (`routes.json`), as it feeds svclb targets.

Upstream: traefik/traefik v2.11 pkg/provider/kubernetes/ingress/kubernetes.go (`loadConfigurationFromIngresses`:
an Ingress is served when its class is this controller's or unset; a backend Service without
endpoints is skipped unless allowEmptyServices; `spec.defaultBackend` is a catch-all route; TLS
secrets must carry `tls.crt` and `tls.key`; servers are the Service's v1 Endpoints `addresses`,
`client.GetEndpoints`, so a terminating pod, which the endpoints controller drops at once, gets no
new request from the next configuration on, and nothing falls back to it); k3s-io/k3s manifests/traefik.yaml (Traefik is the default
IngressClass `traefik`).

Middlewares: the annotation `traefik.ingress.kubernetes.io/router.middlewares` lists
`<namespace>-<name>@kubernetescrd` references to traefik.io Middleware objects (traefik docs
"Kubernetes Ingress" routing, pkg/provider/kubernetes/ingress/annotations.go); of them the stand-in
models `retry` (its `attempts` go with the route, for the proxy: traefik.py). A reference to no
Middleware leaves the router unserved (Traefik logs "middleware ... does not exist"; a 404 follows).

Example:
    table = routes(ingresses, services, endpoints, secrets)
    table["routes"][0]   # {"host": "rancher.lab", "path": "/", "pathType": "Prefix", "backends": [["10.42.0.5", 80]]}
"""

from __future__ import annotations

import base64
from typing import Any

Obj = dict[str, Any]
INGRESS_CLASS = "traefik"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
MIDDLEWARES_ANNOTATION = "traefik.ingress.kubernetes.io/router.middlewares"
CRD_PROVIDER = "@kubernetescrd"


def served(ingress: Obj) -> bool:
    name = ingress["spec"].get("ingressClassName") or \
        (ingress["metadata"].get("annotations") or {}).get(CLASS_ANNOTATION)
    return not name or name == INGRESS_CLASS


def key(obj: Obj) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def backends(namespace: str, backend: Obj, services: dict[tuple[str, str], Obj],
             endpoints: dict[tuple[str, str], Obj]) -> list[list[Any]]:
    """Ready (ip, port) of an Ingress backend: the Service port by number or name, then its endpoints."""
    wanted = backend.get("service") or {}
    service = services.get((namespace, wanted.get("name", "")))
    found = endpoints.get((namespace, wanted.get("name", "")))
    if service is None or found is None:
        return []
    number, port_name = (wanted.get("port") or {}).get("number"), (wanted.get("port") or {}).get("name")
    port = next((p for p in service["spec"].get("ports") or []
                 if (number and int(p["port"]) == int(number)) or (port_name and p.get("name") == port_name)), None)
    if port is None:
        return []
    result = []
    for subset in found.get("subsets") or []:
        ports = subset.get("ports") or []
        match = next((p for p in ports if p.get("name", "") == port.get("name", "")), ports[0] if len(ports) == 1 else None)
        if match is not None:
            result += [[address["ip"], int(match["port"])] for address in subset.get("addresses") or []]
    return sorted(result)


def retry_attempts(ingress: Obj, middlewares: dict[str, Obj]) -> int | None:
    """The attempts of the retry middleware the Ingress's router uses (1: none); None when it names a
    Middleware that does not exist. ``middlewares`` are keyed ``<namespace>-<name>`` as Traefik's CRD
    provider names them.

    Example:
        retry_attempts({"metadata": {"annotations": {MIDDLEWARES_ANNOTATION: "cattle-system-retry@kubernetescrd"}}},
                       {"cattle-system-retry": {"spec": {"retry": {"attempts": 3}}}})   # 3
    """
    attempts = 1
    listed = (ingress["metadata"].get("annotations") or {}).get(MIDDLEWARES_ANNOTATION) or ""
    for reference in filter(None, (item.strip() for item in listed.split(","))):
        name, _, provider = reference.partition("@")
        found = middlewares.get(name) if f"@{provider}" == CRD_PROVIDER else None
        if found is None:
            return None
        attempts = max(attempts, int(((found.get("spec") or {}).get("retry") or {}).get("attempts") or 1))
    return attempts


def certificate(secret: Obj | None) -> tuple[str, str] | None:
    data = (secret or {}).get("data") or {}
    if "tls.crt" not in data or "tls.key" not in data:
        return None
    return base64.b64decode(data["tls.crt"]).decode(), base64.b64decode(data["tls.key"]).decode()


def routes(ingresses: list[Obj], services: list[Obj], endpoints: list[Obj], secrets: list[Obj],
           middlewares: list[Obj] | None = None) -> Obj:
    """The routes file's content: routes with endpoints (and their retry attempts when more than
    one), and certificates by host."""
    by_service, by_endpoints, by_secret = ({key(o): o for o in items} for items in (services, endpoints, secrets))
    by_middleware = {"-".join(key(o)): o for o in middlewares or []}
    table: Obj = {"routes": [], "certificates": []}
    for ingress in sorted(filter(served, ingresses), key=key):
        namespace, name = key(ingress)
        attempts = retry_attempts(ingress, by_middleware)
        spec = ingress["spec"]
        candidates = [("", "/", "Prefix", spec["defaultBackend"])] if spec.get("defaultBackend") else []
        for rule in spec.get("rules") or []:
            for item in (rule.get("http") or {}).get("paths") or []:
                candidates.append((rule.get("host", ""), item.get("path") or "/", item.get("pathType", "Prefix"),
                                   item.get("backend") or {}))
        for host, route_path, path_type, backend in candidates:
            found = backends(namespace, backend, by_service, by_endpoints)
            if found and attempts is not None:
                route = {"host": host, "path": route_path, "pathType": path_type, "backends": found,
                         "ingress": f"{namespace}/{name}"}
                table["routes"].append(route | {"retryAttempts": attempts} if attempts > 1 else route)
        for tls in spec.get("tls") or []:
            pair = certificate(by_secret.get((namespace, tls.get("secretName", ""))))
            if pair is not None:
                table["certificates"].append({"hosts": tls.get("hosts") or [], "cert": pair[0], "key": pair[1]})
    return table
