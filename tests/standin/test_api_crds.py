"""CustomResourceDefinitions on the stand-in, with the real kubectl and the official Python client:
served, discovered, listed, watched, deleted with their objects, and kept across a restart."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from conftest import free_port, start_server, stop_server, wait_for
from k3s_standin.client import Client, no_kind_match, serves_kind


def crd_body(group: str, kind: str, scope: str = "Namespaced") -> dict[str, Any]:
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": scope,
                 "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}},
                               "subresources": {"status": {}},
                               "additionalPrinterColumns": [
                                   {"name": "Ready", "type": "string",
                                    "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                                   {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]}]}}


def issuer(group: str, name: str = "rancher", namespace: str = "default") -> dict[str, Any]:
    return {"apiVersion": f"{group}/v1", "kind": "Issuer", "metadata": {"name": name, "namespace": namespace},
            "spec": {"ca": {"secretName": "tls-rancher"}}}


@pytest.fixture
def group() -> str:
    return f"t{uuid.uuid4().hex[:8]}.example.com"


@pytest.fixture
def apply(kubectl, tmp_path: Path):
    def run(*objects: dict[str, Any]):
        manifest = tmp_path / f"{uuid.uuid4().hex[:6]}.yaml"
        manifest.write_text(yaml.safe_dump_all(objects))
        return kubectl("apply", "-f", str(manifest))
    return run


@pytest.fixture
def issuers(apply, kubectl, group: str) -> str:
    """A namespaced Issuer kind in a fresh group, Established."""
    assert apply(crd_body(group, "Issuer")).returncode == 0
    assert kubectl("wait", "--for=condition=Established", f"crd/issuers.{group}", "--timeout=10s").returncode == 0
    return group


@pytest.fixture
def custom(api_client) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(api_client)


def test_apply_of_a_kind_without_its_crd_fails_with_no_matches(apply, group):
    result = apply(issuer(group))
    assert result.returncode != 0
    assert f'no matches for kind "Issuer" in version "{group}/v1"' in result.stderr
    assert "ensure CRDs are installed first" in result.stderr


def test_created_crd_has_names_accepted_and_established(issuers, kubectl):
    crd = json.loads(kubectl("get", "crd", f"issuers.{issuers}", "-o", "json").stdout)
    conditions = {c["type"]: (c["status"], c["reason"]) for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": ("True", "NoConflicts"), "Established": ("True", "InitialNamesAccepted")}


def test_custom_resource_is_listed_by_api_resources(issuers, kubectl):
    result = kubectl("api-resources", f"--api-group={issuers}", "--no-headers")
    assert result.stdout.split() == ["issuers", f"{issuers}/v1", "true", "Issuer"]


def test_custom_resource_applied_after_its_crd_is_created(issuers, apply, custom):
    assert apply(issuer(issuers)).returncode == 0
    assert custom.get_namespaced_custom_object(issuers, "v1", "default", "issuers", "rancher")["spec"] == \
        {"ca": {"secretName": "tls-rancher"}}


def test_get_prints_the_crd_printer_columns(issuers, apply, custom, kubectl):
    apply(issuer(issuers))
    custom.patch_namespaced_custom_object_status(issuers, "v1", "default", "issuers", "rancher",
                                                 {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    lines = kubectl("get", f"issuers.{issuers}", "-n", "default").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "AGE"]
    assert lines[1].split()[:2] == ["rancher", "True"]


def test_update_of_the_main_resource_keeps_the_status(issuers, apply, custom):
    apply(issuer(issuers))
    custom.patch_namespaced_custom_object_status(issuers, "v1", "default", "issuers", "rancher",
                                                 {"status": {"phase": "kept"}})
    custom.patch_namespaced_custom_object(issuers, "v1", "default", "issuers", "rancher",
                                          {"spec": {"ca": {"secretName": "other"}}, "status": {"phase": "lost"}})
    assert custom.get_namespaced_custom_object(issuers, "v1", "default", "issuers", "rancher")["status"] == \
        {"phase": "kept"}


def test_watch_sends_the_created_custom_resource(issuers, custom):
    stream = kubernetes.watch.Watch().stream(custom.list_namespaced_custom_object, issuers, "v1", "default",
                                             "issuers", timeout_seconds=5)
    custom.create_namespaced_custom_object(issuers, "v1", "default", "issuers", issuer(issuers, "watched"))
    events = [(e["type"], e["object"]["metadata"]["name"]) for e in stream]
    assert ("ADDED", "watched") in events


def test_cluster_scoped_custom_resource_has_no_namespace(apply, kubectl, group, custom):
    apply(crd_body(group, "ClusterIssuer", "Cluster"))
    kubectl("wait", "--for=condition=Established", f"crd/clusterissuers.{group}", "--timeout=10s")
    custom.create_cluster_custom_object(group, "v1", "clusterissuers", {
        "apiVersion": f"{group}/v1", "kind": "ClusterIssuer", "metadata": {"name": "letsencrypt"}})
    assert "namespace" not in custom.get_cluster_custom_object(group, "v1", "clusterissuers",
                                                               "letsencrypt")["metadata"]


def test_deleted_crd_is_no_longer_served(issuers, apply, kubectl):
    apply(issuer(issuers))
    assert kubectl("delete", "crd", f"issuers.{issuers}").returncode == 0
    result = kubectl("get", f"issuers.{issuers}", "-A")
    assert result.returncode != 0
    assert "the server doesn't have a resource type" in result.stderr


def test_crd_waits_for_its_objects_finalizers_and_refuses_creates_meanwhile(issuers, custom, api_client):
    body = issuer(issuers, "held")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    custom.create_namespaced_custom_object(issuers, "v1", "default", "issuers", body)
    extensions = kubernetes.client.ApiextensionsV1Api(api_client)
    extensions.delete_custom_resource_definition(f"issuers.{issuers}")
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        custom.create_namespaced_custom_object(issuers, "v1", "default", "issuers", issuer(issuers, "late"))
    assert (refused.value.status, json.loads(refused.value.body)["message"]) == (
        405, "create not allowed while custom resource definition is terminating")
    custom.patch_namespaced_custom_object(issuers, "v1", "default", "issuers", "held",
                                          {"metadata": {"finalizers": None}})
    wait_for("the CRD to be gone", lambda: not [c for c in extensions.list_custom_resource_definition().items
                                                if c.metadata.name == f"issuers.{issuers}"], timeout=5)


def test_crd_and_custom_resource_survive_a_restart(tmp_path):
    server = start_server(tmp_path, free_port())
    group = "cert-manager.io"
    try:
        client = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
        kubernetes.client.ApiextensionsV1Api(client).create_custom_resource_definition(crd_body(group, "Issuer"))
        kubernetes.client.CustomObjectsApi(client).create_namespaced_custom_object(
            group, "v1", "default", "issuers", issuer(group))
    finally:
        stop_server(server)
    server = start_server(tmp_path, free_port())
    try:
        client = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
        found = kubernetes.client.CustomObjectsApi(client).get_namespaced_custom_object(
            group, "v1", "default", "issuers", "rancher")
        assert found["spec"] == {"ca": {"secretName": "tls-rancher"}}
    finally:
        stop_server(server)


def test_client_serves_kind_follows_the_crd(k3s_server, apply, kubectl, group):
    api = Client(k3s_server.url, k3s_server.ca_file, k3s_server.node_token)
    before = serves_kind(api, f"{group}/v1", "Issuer")
    apply(crd_body(group, "Issuer"))
    kubectl("wait", "--for=condition=Established", f"crd/issuers.{group}", "--timeout=10s")
    assert (before, serves_kind(api, f"{group}/v1", "Issuer")) == (False, True)


def test_no_kind_match_words_the_error_as_kubectl_prints_it(apply, group):
    assert no_kind_match(f"{group}/v1", "Issuer") in apply(issuer(group)).stderr
