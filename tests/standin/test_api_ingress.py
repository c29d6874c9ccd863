"""networking.k8s.io/v1 Ingress and IngressClass, policy/v1 PodDisruptionBudget on the stand-in,
through the official Python client and the real kubectl."""

from __future__ import annotations

import uuid

import kubernetes
import pytest


@pytest.fixture
def networking(api_client) -> kubernetes.client.NetworkingV1Api:
    return kubernetes.client.NetworkingV1Api(api_client)


def ingress_body(name: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name},
            "spec": {"ingressClassName": "traefik",
                     "tls": [{"hosts": ["rancher.lab"], "secretName": "tls-rancher-ingress"}],
                     "rules": [{"host": "rancher.lab", "http": {"paths": [{
                         "path": "/", "pathType": "ImplementationSpecific",
                         "backend": {"service": {"name": "rancher", "port": {"number": 80}}}}]}}]}}


def test_ingress_is_created_and_read_back(networking):
    name = f"rancher-{uuid.uuid4().hex[:6]}"
    networking.create_namespaced_ingress("default", ingress_body(name))
    assert networking.read_namespaced_ingress(name, "default").spec.tls[0].secret_name == "tls-rancher-ingress"


def test_ingress_status_is_written_only_through_its_subresource(networking):
    name = f"rancher-{uuid.uuid4().hex[:6]}"
    networking.create_namespaced_ingress("default", ingress_body(name))
    status = {"status": {"loadBalancer": {"ingress": [{"ip": "10.213.0.111"}]}}}
    networking.patch_namespaced_ingress(name, "default", status)
    assert not networking.read_namespaced_ingress(name, "default").status.load_balancer.ingress
    networking.patch_namespaced_ingress_status(name, "default", status)
    assert networking.read_namespaced_ingress(name, "default").status.load_balancer.ingress[0].ip == "10.213.0.111"


def test_get_ingress_prints_class_hosts_and_ports(networking, kubectl):
    name = f"rancher-{uuid.uuid4().hex[:6]}"
    networking.create_namespaced_ingress("default", ingress_body(name))
    lines = kubectl("get", "ingress", name, "-n", "default").stdout.splitlines()
    assert lines[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert lines[1].split()[:4] == [name, "traefik", "rancher.lab", "80,"]


def test_deleted_ingress_is_gone(networking):
    name = f"rancher-{uuid.uuid4().hex[:6]}"
    networking.create_namespaced_ingress("default", ingress_body(name))
    networking.delete_namespaced_ingress(name, "default")
    assert name not in [i.metadata.name for i in networking.list_namespaced_ingress("default").items]


def test_ingress_class_is_cluster_scoped(networking, kubectl):
    name = f"traefik-{uuid.uuid4().hex[:6]}"
    networking.create_ingress_class({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                                     "metadata": {"name": name}, "spec": {"controller": "traefik.io/ingress-controller"}})
    assert networking.read_ingress_class(name).spec.controller == "traefik.io/ingress-controller"
    assert kubectl("get", "ingressclass", name, "--no-headers").stdout.split()[:3] == \
        [name, "traefik.io/ingress-controller", "<none>"]
    networking.delete_ingress_class(name)
    assert name not in [c.metadata.name for c in networking.list_ingress_class().items]


def test_pod_disruption_budget_is_served(api_client):
    policy = kubernetes.client.PolicyV1Api(api_client)
    name = f"rancher-{uuid.uuid4().hex[:6]}"
    policy.create_namespaced_pod_disruption_budget("default", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "rancher"}}}})
    assert policy.read_namespaced_pod_disruption_budget(name, "default").spec.min_available == 1
