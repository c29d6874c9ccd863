"""The cert-manager chart (cert-manager/cert-manager `deploy/charts/cert-manager` v1.16: templates
crds.yaml, deployment.yaml, webhook-deployment.yaml, cainjector-deployment.yaml, webhook-service.yaml,
service.yaml, webhook-validating-webhook.yaml, webhook-mutating-webhook.yaml, serviceaccount.yaml),
trimmed to the kinds the stand-in serves (no RBAC objects, no startupapicheck Job):

* with `crds.enabled` (or the deprecated `installCRDs`) the CRDs certificates, certificaterequests,
  issuers, clusterissuers (cert-manager.io), orders, challenges (acme.cert-manager.io),
* Deployments `cert-manager`, `cert-manager-webhook`, `cert-manager-cainjector`, images
  `<image.repository>:<tag or appVersion>` (`webhook.image`, `cainjector.image` likewise),
* Service `cert-manager-webhook` 443 -> `https` (10250), the webhook's readiness on /healthz :6080,
* ValidatingWebhookConfiguration and MutatingWebhookConfiguration `cert-manager-webhook`, webhook
  `webhook.cert-manager.io` on that Service (`/validate`, `/mutate`), failurePolicy Fail: until the
  webhook pod is Ready the API refuses cert-manager objects.

Example:
    chart = {"name": "cert-manager", "version": "v1.16.2", "appVersion": "v1.16.2"}
    render(Release("cert-manager", "cert-manager", chart, {"crds": {"enabled": True}}, "v1.31.4+k3s1"))
"""

from __future__ import annotations

from k3s_standin.helm.charts import Obj, Release, crd

CRDS = (("cert-manager.io", "Certificate", "certificates", True),
        ("cert-manager.io", "CertificateRequest", "certificaterequests", True),
        ("cert-manager.io", "Issuer", "issuers", True),
        ("cert-manager.io", "ClusterIssuer", "clusterissuers", False),
        ("acme.cert-manager.io", "Order", "orders", True),
        ("acme.cert-manager.io", "Challenge", "challenges", True))
WEBHOOK = "webhook.cert-manager.io"
WEBHOOK_PORT = 10250
HEALTH_PORT = 6080


def labels(release: Release, component: str) -> dict[str, str]:
    name = {"controller": "cert-manager"}.get(component, component)
    return {"app": name, "app.kubernetes.io/name": name, "app.kubernetes.io/instance": release.name,
            "app.kubernetes.io/component": component}


def selector(release: Release, component: str) -> dict[str, str]:
    """The chart's selectors: its labels without the legacy `app`."""
    return {key: value for key, value in labels(release, component).items() if key != "app"}


def image(release: Release, settings: Obj, default_repository: str) -> str:
    spec = settings.get("image") or {}
    return f"{spec.get('repository') or default_repository}:{spec.get('tag') or release.app_version}"


def deployment(release: Release, name: str, component: str, container: Obj) -> Obj:
    meta_labels = dict(labels(release, component), **{"helm.sh/chart": release.chart_label})
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": release.namespace, "labels": meta_labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": selector(release, component)},
                     "template": {"metadata": {"labels": meta_labels},
                                  "spec": {"serviceAccountName": name, "containers": [container],
                                           "nodeSelector": {"kubernetes.io/os": "linux"}}}}}


def webhook_configuration(release: Release, kind: str, path: str, operations: list[str],
                          resources: list[str]) -> Obj:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": "cert-manager-webhook", "labels": labels(release, "webhook"),
                         "annotations": {"cert-manager.io/inject-ca-from-secret":
                                         f"{release.namespace}/cert-manager-webhook-ca"}},
            "webhooks": [{"name": WEBHOOK,
                          "rules": [{"apiGroups": ["cert-manager.io", "acme.cert-manager.io"],
                                     "apiVersions": ["v1"], "operations": operations, "resources": resources}],
                          "admissionReviewVersions": ["v1"], "timeoutSeconds": 30, "failurePolicy": "Fail",
                          "sideEffects": "None", "matchPolicy": "Equivalent",
                          "namespaceSelector": {"matchExpressions": [{
                              "key": "cert-manager.io/disable-validation", "operator": "NotIn",
                              "values": ["true"]}]} if kind.startswith("Validating") else {},
                          "clientConfig": {"service": {"name": "cert-manager-webhook",
                                                       "namespace": release.namespace, "path": path}}}]}


def render(release: Release) -> list[Obj]:
    values, namespace = release.values, release.namespace
    objects: list[Obj] = []
    if (values.get("crds") or {}).get("enabled") or values.get("installCRDs"):
        objects += [crd(group, kind, plural, namespaced,
                        labels=dict(labels(release, "crds"), **{"app.kubernetes.io/name": "cert-manager"}))
                    for group, kind, plural, namespaced in CRDS]
    for name, component in (("cert-manager", "controller"), ("cert-manager-webhook", "webhook"),
                            ("cert-manager-cainjector", "cainjector")):
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": name, "namespace": namespace, "labels": labels(release, component)}})
    webhook = values.get("webhook") or {}
    solver = image(release, values.get("acmesolver") or {}, "jetstack/cert-manager-acmesolver")
    objects += [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "cert-manager", "namespace": namespace, "labels": labels(release, "controller")},
         "spec": {"type": "ClusterIP", "selector": selector(release, "controller"),
                  "ports": [{"name": "tcp-prometheus-servicemonitor", "port": 9402, "targetPort": 9402,
                             "protocol": "TCP"}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "cert-manager-webhook", "namespace": namespace, "labels": labels(release, "webhook")},
         "spec": {"type": "ClusterIP", "selector": selector(release, "webhook"),
                  "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]}},
        deployment(release, "cert-manager", "controller", {
            "name": "cert-manager-controller", "image": image(release, values, "jetstack/cert-manager-controller"),
            "imagePullPolicy": "IfNotPresent",
            "args": ["--v=2", "--cluster-resource-namespace=$(POD_NAMESPACE)",
                     "--leader-election-namespace=kube-system",
                     f"--acme-http01-solver-image={solver}",
                     "--max-concurrent-challenges=60"],
            "ports": [{"name": "http-metrics", "containerPort": 9402, "protocol": "TCP"},
                      {"name": "http-healthz", "containerPort": 9403, "protocol": "TCP"}],
            "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]}),
        deployment(release, "cert-manager-webhook", "webhook", {
            "name": "cert-manager-webhook", "image": image(release, webhook, "jetstack/cert-manager-webhook"),
            "imagePullPolicy": "IfNotPresent",
            "args": ["--v=2", f"--secure-port={WEBHOOK_PORT}", "--dynamic-serving-ca-secret-namespace=$(POD_NAMESPACE)",
                     "--dynamic-serving-ca-secret-name=cert-manager-webhook-ca",
                     f"--dynamic-serving-dns-names=cert-manager-webhook,cert-manager-webhook.{namespace},"
                     f"cert-manager-webhook.{namespace}.svc"],
            "ports": [{"name": "https", "containerPort": WEBHOOK_PORT, "protocol": "TCP"},
                      {"name": "healthcheck", "containerPort": HEALTH_PORT, "protocol": "TCP"}],
            "livenessProbe": {"httpGet": {"path": "/livez", "port": HEALTH_PORT, "scheme": "HTTP"},
                              "initialDelaySeconds": 60, "periodSeconds": 10},
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": HEALTH_PORT, "scheme": "HTTP"},
                               "initialDelaySeconds": 5, "periodSeconds": 5},
            "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]}),
        deployment(release, "cert-manager-cainjector", "cainjector", {
            "name": "cert-manager-cainjector",
            "image": image(release, values.get("cainjector") or {}, "jetstack/cert-manager-cainjector"),
            "imagePullPolicy": "IfNotPresent", "args": ["--v=2", "--leader-election-namespace=kube-system"],
            "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]}),
        webhook_configuration(release, "MutatingWebhookConfiguration", "/mutate", ["CREATE"],
                              ["certificaterequests"]),
        webhook_configuration(release, "ValidatingWebhookConfiguration", "/validate", ["CREATE", "UPDATE"],
                              ["*/*"]),
    ]
    return objects
