"""Admission webhooks as kube-apiserver calls them: MutatingAdmissionWebhook then
ValidatingAdmissionWebhook, for each webhook whose rules, namespaceSelector and objectSelector match.

Upstream: kubernetes/kubernetes staging/src/k8s.io/apiserver -
pkg/admission/plugin/webhook/predicates/rules/rules.go (operations, apiGroups, apiVersions,
resources with `*` and `<resource>/<subresource>`, scope), predicates/namespace and predicates/object
(selectors), pkg/admission/plugin/webhook/generic/webhook.go (webhook configurations themselves are
exempt), validating/dispatcher.go and mutating/dispatcher.go (a call error is
`failed calling webhook "<name>": failed to call webhook: <error>`, answered as an InternalError
unless failurePolicy is Ignore), pkg/util/webhook/error.go, and pkg/util/proxy/proxy.go
`ResolveEndpoints` (k3s runs kube-apiserver with `enable-aggregator-routing=true`,
k3s pkg/daemons/control/server.go, so a service webhook is dialled at a ready endpoint of its
Service, and none gives `no endpoints available for service "<name>"`). The URL in the message is
the one client-go posts to: `https://<service>.<namespace>.svc:<port><path>?timeout=<timeoutSeconds>s`.

The stand-in does not call a webhook that resolves to an endpoint, nor one given by `url`: the
request is admitted as if the webhook allowed it, unchanged. What it reproduces is the failure of a
webhook that is configured but not answering yet (cert-manager installed, its pod not Ready).

Example:
    admit(store, "CREATE", issuers, "", "cattle-system", issuer, None)   # raises ApiError 500
"""

from __future__ import annotations

from typing import Any

from k3s_standin.apiserver.errors import ApiError
from k3s_standin.apiserver.resources import Resource
from k3s_standin.apiserver.selectors import matches_selector
from k3s_standin.apiserver.store import Store

Obj = dict[str, Any]
GROUP = "admissionregistration.k8s.io"
CONFIGURATIONS = (f"{GROUP}/mutatingwebhookconfigurations", f"{GROUP}/validatingwebhookconfigurations")
DEFAULT_TIMEOUT_SECONDS = 10


def default_configuration(obj: Obj, mutating: bool) -> None:
    """admissionregistration/v1 defaults (pkg/apis/admissionregistration/v1/defaults.go)."""
    for webhook in obj.get("webhooks") or []:
        webhook.setdefault("failurePolicy", "Fail")
        webhook.setdefault("matchPolicy", "Equivalent")
        webhook.setdefault("namespaceSelector", {})
        webhook.setdefault("objectSelector", {})
        webhook.setdefault("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
        if mutating:
            webhook.setdefault("reinvocationPolicy", "Never")
        service = (webhook.get("clientConfig") or {}).get("service")
        if service is not None:
            service.setdefault("port", 443)
        for rule in webhook.get("rules") or []:
            rule.setdefault("scope", "*")


def admit(store: Store, operation: str, resource: Resource, subresource: str, namespace: str,
          obj: Obj | None, old: Obj | None) -> None:
    """Run the matching webhooks for one request; raises the apiserver's error when one fails closed."""
    if resource.group == GROUP:
        return
    for key in CONFIGURATIONS:
        for configuration in store.items(key)[0]:
            for webhook in configuration.get("webhooks") or []:
                if _matches(store, webhook, operation, resource, subresource, namespace, obj, old):
                    _call(store, webhook)


def _matches(store: Store, webhook: Obj, operation: str, resource: Resource, subresource: str,
             namespace: str, obj: Obj | None, old: Obj | None) -> bool:
    if not any(_rule_matches(rule, operation, resource, subresource) for rule in webhook.get("rules") or []):
        return False
    if not _namespace_matches(store, webhook.get("namespaceSelector"), resource, namespace, obj):
        return False
    selector = webhook.get("objectSelector")
    return any(matches_selector(selector, (o["metadata"].get("labels") or {})) for o in (obj, old) if o)


def _rule_matches(rule: Obj, operation: str, resource: Resource, subresource: str) -> bool:
    def listed(values: list[str] | None, value: str) -> bool:
        return bool(values) and ("*" in values or value in values)

    wanted = {resource.plural if not subresource else f"{resource.plural}/{subresource}",
              "*/*", f"{resource.plural}/*", f"*/{subresource}" if subresource else "*"}
    scope = rule.get("scope") or "*"
    return (listed(rule.get("operations"), operation) and listed(rule.get("apiGroups"), resource.group)
            and listed(rule.get("apiVersions"), resource.version)
            and bool(wanted & set(rule.get("resources") or []))
            and (scope == "*" or (scope == "Namespaced") == resource.namespaced))


def _namespace_matches(store: Store, selector: Obj | None, resource: Resource, namespace: str,
                       obj: Obj | None) -> bool:
    """Cluster-scoped objects always match, except Namespaces, which match by their own labels."""
    if resource.kind == "Namespace" and resource.group == "":
        return matches_selector(selector, ((obj or {}).get("metadata") or {}).get("labels") or {})
    if not resource.namespaced:
        return True
    found = store.get("/namespaces", "", namespace)
    return matches_selector(selector, (found or {}).get("metadata", {}).get("labels") or {})


def _call(store: Store, webhook: Obj) -> None:
    service = (webhook.get("clientConfig") or {}).get("service")
    if not service:
        return
    reason = _unreachable(store, service)
    if not reason or webhook.get("failurePolicy", "Fail") == "Ignore":
        return
    url = (f"https://{service['name']}.{service['namespace']}.svc:{service.get('port', 443)}"
           f"{service.get('path') or '/'}?timeout={webhook.get('timeoutSeconds', DEFAULT_TIMEOUT_SECONDS)}s")
    message = f'failed calling webhook "{webhook.get("name", "")}": failed to call webhook: Post "{url}": {reason}'
    raise ApiError(500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]})


def _unreachable(store: Store, service: Obj) -> str:
    """Why `ResolveEndpoints` finds no endpoint for the webhook's service port ("" when it does)."""
    name, namespace, port = service["name"], service["namespace"], service.get("port", 443)
    found = store.get("/services", namespace, name)
    if found is None:
        return f'service "{name}" not found'
    ports = [p for p in (found.get("spec") or {}).get("ports") or [] if p.get("port") == port]
    if not ports:
        return f'no service port {port} found for service "{name}"'
    if found["spec"].get("type", "ClusterIP") not in ("ClusterIP", "LoadBalancer", "NodePort"):
        return f'unsupported service type "{found["spec"]["type"]}"'
    endpoints = store.get("/endpoints", namespace, name)
    if endpoints is None:
        return f'endpoints "{name}" not found'
    port_name = ports[0].get("name", "")
    ready = [address for subset in endpoints.get("subsets") or [] for address in subset.get("addresses") or []
             if any(p.get("name", "") == port_name for p in subset.get("ports") or [])]
    return "" if ready else f'no endpoints available for service "{name}"'
