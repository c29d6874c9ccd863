"""cert-manager as the stand-in models it (ingress-shim, CA issuer, certificate issuing, webhook
gating) and Rancher's own CA Secret `tls-rancher` that the chart's `Issuer rancher` signs with."""

from __future__ import annotations

import json

import base64
import time
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest

import conftest
from airgap_inputs import CERT_MANAGER_CHART
from charts import chart_bytes
from k3s_standin.client import Client
from k3s_standin.controllers import x509
from k3s_standin.controllers.cert_manager import shim_certificates
from test_helm_job import content, helm_chart, require_served, run_install

INGRESS = {"metadata": {"name": "rancher", "namespace": "cattle-system", "uid": "u1",
                        "annotations": {"cert-manager.io/issuer": "rancher", "cert-manager.io/issuer-kind": "Issuer"}},
           "spec": {"tls": [{"hosts": ["rancher.lab"], "secretName": "tls-rancher-ingress"}]}}


@pytest.fixture(scope="module")
def api(k3s_server: conftest.Server) -> Client:
    return Client(k3s_server.url, k3s_server.ca_file, (k3s_server.data_dir / "server" / "token").read_text().strip())


def test_ingress_shim_wants_a_certificate_per_tls_secret() -> None:
    [certificate] = shim_certificates(INGRESS)
    assert certificate["metadata"]["name"] == "tls-rancher-ingress"
    assert certificate["spec"]["dnsNames"] == ["rancher.lab"]
    assert certificate["spec"]["issuerRef"] == {"name": "rancher", "kind": "Issuer", "group": "cert-manager.io"}


def test_an_ingress_without_the_annotation_gets_no_certificate() -> None:
    assert shim_certificates({**INGRESS, "metadata": {**INGRESS["metadata"], "annotations": {}}}) == []


def ready_pod(core: kubernetes.client.CoreV1Api, node: str, namespace: str, labels: dict[str, str]) -> None:
    """A pod bound to an API-created node, reported Running and Ready as its kubelet would."""
    name = f"{labels['app']}-standin"
    core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "rancher/rancher:v2.10.1"}]}})
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    core.patch_namespaced_pod_status(name, namespace, {"status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}})


def test_a_ready_rancher_pod_creates_the_cattle_ca(make_node: Callable[..., str],
                                                    core_v1: kubernetes.client.CoreV1Api) -> None:
    core_v1.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cattle-system"}})
    ready_pod(core_v1, make_node(), "cattle-system", {"app": "rancher"})
    secret = conftest.wait_for("Secret cattle-system/tls-rancher", lambda: next(
        (item for item in core_v1.list_namespaced_secret("cattle-system").items if item.metadata.name == "tls-rancher"),
        None))
    assert secret.type == "kubernetes.io/tls"
    assert x509.is_ca(base64.b64decode(secret.data["tls.crt"]))


def deployment_ready(apps: kubernetes.client.AppsV1Api, name: str, ready: bool) -> Callable[[], bool]:
    return lambda: bool(apps.read_namespaced_deployment(name, "cert-manager").status.ready_replicas) is ready


def test_cert_manager_issues_rancher_ingress_certificate(api: Client, k3s_server: conftest.Server,
                                                          core_v1: kubernetes.client.CoreV1Api) -> None:
    """Needs the API's CRDs and admission webhooks and a kubelet that runs cert-manager's images; signs
    with the cattle CA the test above had Rancher create."""
    for group_version in ("apiextensions.k8s.io/v1", "admissionregistration.k8s.io/v1"):
        require_served(api, group_version)
    client = kubernetes.config.new_client_from_config(str(k3s_server.kubeconfig))
    custom, apps = kubernetes.client.CustomObjectsApi(client), kubernetes.client.AppsV1Api(client)
    helm_chart(custom, "cert-manager", {"chartContent": content(chart_bytes(CERT_MANAGER_CHART)),
                                        "targetNamespace": "cert-manager", "createNamespace": True,
                                        "valuesContent": "crds:\n  enabled: true\n"})
    code, lines = run_install(api, "cert-manager")
    assert (code, lines[-3]) == (0, "STATUS: deployed")
    for name in ("cert-manager", "cert-manager-webhook"):
        conftest.wait_for(f"{name} to be Ready", deployment_ready(apps, name, True), 60)
    issuer: dict[str, Any] = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
                              "metadata": {"name": "rancher"}, "spec": {"ca": {"secretName": "tls-rancher"}}}
    apps.patch_namespaced_deployment_scale("cert-manager-webhook", "cert-manager", {"spec": {"replicas": 0}})
    conftest.wait_for("the webhook to have no ready pod", deployment_ready(apps, "cert-manager-webhook", False))
    with pytest.raises(kubernetes.client.ApiException) as refused:
        custom.create_namespaced_custom_object("cert-manager.io", "v1", "cattle-system", "issuers", issuer)
    assert 'failed calling webhook "webhook.cert-manager.io"' in json.loads(refused.value.body)["message"]
    apps.patch_namespaced_deployment_scale("cert-manager-webhook", "cert-manager", {"spec": {"replicas": 1}})
    conftest.wait_for("the webhook to be Ready again", deployment_ready(apps, "cert-manager-webhook", True), 60)
    custom.create_namespaced_custom_object("cert-manager.io", "v1", "cattle-system", "issuers", issuer)
    custom.create_namespaced_custom_object("cert-manager.io", "v1", "cattle-system", "certificates", {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "tls-rancher-ingress"},
        "spec": {"secretName": "tls-rancher-ingress", "dnsNames": ["rancher.lab"],
                 "issuerRef": {"name": "rancher", "kind": "Issuer"}}})
    secret = conftest.wait_for("Secret tls-rancher-ingress", lambda: next(
        (item for item in core_v1.list_namespaced_secret("cattle-system").items
         if item.metadata.name == "tls-rancher-ingress"), None), 30)
    ca = core_v1.read_namespaced_secret("tls-rancher", "cattle-system").data["tls.crt"]
    assert secret.data["ca.crt"] == ca
    # cert-manager writes the Secret, then the Certificate's status
    status = conftest.wait_for("the Certificate's status", lambda: custom.get_namespaced_custom_object(
        "cert-manager.io", "v1", "cattle-system", "certificates", "tls-rancher-ingress").get("status"), 30)
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [("Ready", "True", "Ready")]
