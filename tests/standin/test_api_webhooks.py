"""Admission webhooks on the stand-in: a webhook whose Service has no ready endpoint refuses the
request with kube-apiserver's message unless its failurePolicy is Ignore; a ready endpoint admits."""

from __future__ import annotations

import json
import uuid

import kubernetes
import pytest

WEBHOOK = "webhook.cert-manager.io"


@pytest.fixture
def namespace(core_v1) -> str:
    name = f"cm-{uuid.uuid4().hex[:6]}"
    core_v1.create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def webhook(api_client, core_v1, namespace):
    """A validating webhook on ConfigMaps labelled for this test, served by a Service whose Endpoints
    have no subsets (what the endpoints controller writes while no pod is Ready); returns a function
    that sets its failurePolicy. The Service has no selector, so the tests own its Endpoints."""
    core_v1.create_namespaced_service(namespace, {"metadata": {"name": "cert-manager-webhook"}, "spec": {
        "ports": [{"name": "https", "port": 443, "targetPort": 10250}]}})
    core_v1.create_namespaced_endpoints(namespace, {"metadata": {"name": "cert-manager-webhook"}})
    admission = kubernetes.client.AdmissionregistrationV1Api(api_client)
    name = f"{namespace}-webhook"

    def configure(policy: str = "Fail") -> None:
        body = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": name},
                "webhooks": [{"name": WEBHOOK, "admissionReviewVersions": ["v1"], "sideEffects": "None",
                              "failurePolicy": policy, "timeoutSeconds": 30,
                              "objectSelector": {"matchLabels": {"webhook-test": namespace}},
                              "clientConfig": {"service": {"name": "cert-manager-webhook", "namespace": namespace,
                                                           "path": "/validate"}},
                              "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                                         "resources": ["configmaps"]}]}]}
        try:
            admission.delete_validating_webhook_configuration(name)
        except kubernetes.client.exceptions.ApiException:
            pass
        admission.create_validating_webhook_configuration(body)

    yield configure
    admission.delete_validating_webhook_configuration(name)


def config_map(namespace: str) -> dict:
    return {"metadata": {"name": f"cm-{uuid.uuid4().hex[:6]}", "labels": {"webhook-test": namespace}}}


def test_webhook_without_endpoints_refuses_the_create(webhook, core_v1, namespace):
    webhook("Fail")
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        core_v1.create_namespaced_config_map(namespace, config_map(namespace))
    status = json.loads(refused.value.body)
    assert (status["code"], status["reason"], status["message"]) == (500, "InternalError", (
        f'Internal error occurred: failed calling webhook "{WEBHOOK}": failed to call webhook: Post '
        f'"https://cert-manager-webhook.{namespace}.svc:443/validate?timeout=30s": '
        'no endpoints available for service "cert-manager-webhook"'))


def test_kubectl_prints_the_webhook_error(webhook, kubectl, namespace, tmp_path):
    webhook("Fail")
    manifest = tmp_path / "cm.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", **config_map(namespace)}))
    result = kubectl("apply", "-n", namespace, "-f", str(manifest))
    assert result.returncode != 0
    assert "Error from server (InternalError)" in result.stderr
    assert 'no endpoints available for service "cert-manager-webhook"' in result.stderr


def test_webhook_with_failure_policy_ignore_admits(webhook, core_v1, namespace):
    webhook("Ignore")
    created = core_v1.create_namespaced_config_map(namespace, config_map(namespace))
    assert created.metadata.uid


def test_webhook_ignores_objects_its_selector_does_not_match(webhook, core_v1, namespace):
    webhook("Fail")
    assert core_v1.create_namespaced_config_map(namespace, {"metadata": {"name": "unlabelled"}}).metadata.uid


def test_webhook_with_a_ready_endpoint_admits(webhook, core_v1, namespace):
    webhook("Fail")
    core_v1.patch_namespaced_endpoints("cert-manager-webhook", namespace, {"subsets": [{
        "addresses": [{"ip": "10.42.0.9"}], "ports": [{"name": "https", "port": 10250}]}]})
    assert core_v1.create_namespaced_config_map(namespace, config_map(namespace)).metadata.uid


def test_webhook_with_only_not_ready_endpoints_refuses(webhook, core_v1, namespace):
    webhook("Fail")
    core_v1.patch_namespaced_endpoints("cert-manager-webhook", namespace, {"subsets": [{
        "notReadyAddresses": [{"ip": "10.42.0.9"}], "ports": [{"name": "https", "port": 10250}]}]})
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        core_v1.create_namespaced_config_map(namespace, config_map(namespace))
    assert refused.value.status == 500
