"""The one chart the air-gapped lab can install: `rancher`, rendered from its values the way the
real chart lays the objects out (Deployment `rancher` with label app=rancher, ClusterIP Service
`rancher` on 80 and 443, the bootstrap Secret), labelled as Helm-managed.

Example:
    render({"hostname": "rancher.lab", "replicas": 1}, "rancher", "cattle-system", "2.9.3")
"""

from __future__ import annotations

import base64
from typing import Any

Obj = dict[str, Any]

CHART = "rancher"
DEFAULT_VERSION = "2.9.3"


def helm_metadata(name: str, release: str, namespace: str, version: str, labels: dict[str, str]) -> Obj:
    return {"name": name, "namespace": namespace,
            "labels": dict(labels, **{"app.kubernetes.io/managed-by": "Helm", "chart": f"{CHART}-{version}",
                                      "heritage": "Helm", "release": release}),
            "annotations": {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace}}


def render(values: Obj, release: str, namespace: str, version: str) -> list[tuple[str, str, Obj]]:
    """(api, resource, object) triples the chart installs; raises ValueError on unusable values."""
    replicas = int(values.get("replicas", 3))
    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {replicas}")
    hostname = str(values.get("hostname") or "")
    tag = str(values.get("rancherImageTag") or f"v{version.lstrip('v')}")
    image = f"{values.get('rancherImage') or 'rancher/rancher'}:{tag}"
    env = [{"name": "CATTLE_NAMESPACE", "value": namespace},
           {"name": "CATTLE_PEER_SERVICE", "value": release},
           {"name": "CATTLE_BOOTSTRAP_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "bootstrap-secret", "key": "bootstrapPassword"}}}]
    if hostname:
        env.append({"name": "CATTLE_SERVER_URL", "value": f"https://{hostname}"})
    labels = {"app": release}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": helm_metadata(release, release, namespace, version, labels),
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                 "template": {"metadata": {"labels": dict(labels, release=release)},
                              "spec": {"serviceAccountName": release,
                                       "tolerations": [{"key": "cattle.io/os", "value": "linux",
                                                        "effect": "NoSchedule", "operator": "Equal"}],
                                       "containers": [{
                                           "name": release, "image": image, "imagePullPolicy": "IfNotPresent",
                                           "args": ["--http-listen-port=80", "--https-listen-port=443",
                                                    "--add-local=true"],
                                           "env": env,
                                           "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"},
                                                     {"name": "https", "containerPort": 443, "protocol": "TCP"}],
                                           "livenessProbe": {"httpGet": {"path": "/healthz", "port": 80}},
                                           "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}}}]}}}}
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": helm_metadata(release, release, namespace, version, labels),
        "spec": {"type": "ClusterIP", "selector": labels,
                 "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"},
                           {"name": "https", "port": 443, "targetPort": 443, "protocol": "TCP"}]}}
    password = str(values.get("bootstrapPassword") or "")
    secret = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": helm_metadata("bootstrap-secret", release, namespace, version, {}),
        "data": {"bootstrapPassword": base64.b64encode(password.encode()).decode()}}
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": helm_metadata(release, release, namespace, version, labels)}
    return [("v1", "serviceaccounts", account), ("v1", "secrets", secret),
            ("v1", "services", service), ("apps/v1", "deployments", deployment)]
