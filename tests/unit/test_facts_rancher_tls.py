"""RancherTlsObjects: the objects serving Rancher's certificate, read from kubectl's output."""

from __future__ import annotations

import base64
import hashlib
import json

from facts.rancher_tls import RancherTlsObjects

CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZm9v\n-----END CERTIFICATE-----\n"
# What k3s's deploy controller (wrangler's apply) marks the objects of a manifest with
APPLIED_BY_K3S = {"objectset.rio.cattle.io/id": "", "objectset.rio.cattle.io/owner-gvk": "k3s.cattle.io/v1, Kind=Addon",
                  "objectset.rio.cattle.io/owner-name": "rancher-tls", "objectset.rio.cattle.io/owner-namespace": "kube-system"}
ABSENT = {"error": "", "ingress_secret": None, "ca_secret": False, "certificate": False}


def secret(annotations: dict[str, str]) -> dict:
    """``tls-rancher-ingress`` as ``kubectl get secret -o json`` prints it."""
    metadata = {"name": "tls-rancher-ingress", "namespace": "cattle-system", "annotations": annotations}
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": metadata,
            "data": {"tls.crt": base64.b64encode(CERT.encode()).decode(), "tls.key": "a2V5"}}


def objects(ingress: dict | None = None, ca: bool = False, certificate: bool = False, api: str = "ok") -> dict:
    """The fact's value from the command's output; kubectl prints JSON over many lines, a name as ``kind/name``."""
    # the Secret as the jsonpath prints it: tls.crt's base64, then the annotations' JSON
    printed = [ingress["data"]["tls.crt"], json.dumps(ingress["metadata"]["annotations"])] if ingress else []
    lines = ["### api", api, "### ingress", *printed,
             "### ca", *(["secret/tls-ca"] if ca else []),
             "### certificate", *(["certificate.cert-manager.io/tls-rancher-ingress"] if certificate else [])]
    return RancherTlsObjects().process(lines)


def test_nothing_found_is_nothing_present():
    assert objects() == ABSENT


def test_the_operators_secret_gives_its_certificates_digest_not_issued():
    digest = hashlib.sha256(CERT.encode()).hexdigest()
    assert objects(secret(APPLIED_BY_K3S)) == {**ABSENT, "ingress_secret": {"sha256": digest, "issued": False}}


def test_a_secret_cert_manager_wrote_is_issued():
    issued = secret({"cert-manager.io/certificate-name": "tls-rancher-ingress", "cert-manager.io/issuer-kind": "Issuer"})
    assert objects(issued)["ingress_secret"]["issued"] is True


def test_the_ca_secret_and_the_certificate_are_seen_by_name():
    assert objects(ca=True, certificate=True) == {**ABSENT, "ca_secret": True, "certificate": True}


def test_the_command_reads_each_object_in_cattle_system_without_failing():
    command = RancherTlsObjects().command()
    assert ("k3s kubectl -n cattle-system get" in command, "k secret tls-rancher-ingress -o 'jsonpath=" in command,
            "k secret tls-ca -o name" in command,
            "k certificates.cert-manager.io tls-rancher-ingress -o name" in command,
            command.rstrip().endswith("true")) == (True, True, True, True, True)


def test_the_command_never_reads_the_secrets_key():
    command = RancherTlsObjects().command()
    assert ("tls.key" in command, "tls-rancher-ingress -o json" in command) == (False, False)


def test_an_api_that_does_not_answer_is_an_error_not_absent_objects():
    refused = "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
    assert objects(api=refused)["error"] == f"kubectl failed: {refused}"
