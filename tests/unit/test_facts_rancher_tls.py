"""RancherTlsObjects: the objects serving Rancher's certificate, from the sections facts.kube_reads prints."""

from __future__ import annotations

import base64
import hashlib
import json

from facts.rancher_tls import RancherTlsObjects
from tests.unit.kube_objects import reads_of

CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZm9v\n-----END CERTIFICATE-----\n"
# What k3s's deploy controller (wrangler's apply) marks the objects of a manifest with
APPLIED_BY_K3S = {"objectset.rio.cattle.io/id": "", "objectset.rio.cattle.io/owner-gvk": "k3s.cattle.io/v1, Kind=Addon",
                  "objectset.rio.cattle.io/owner-name": "rancher-tls", "objectset.rio.cattle.io/owner-namespace": "kube-system"}
ABSENT = {"error": "", "ingress_secret": None, "ca_secret": False, "certificate": False}


def secret(annotations: dict[str, str]) -> dict:
    """``tls-rancher-ingress`` as the API returns it."""
    metadata = {"name": "tls-rancher-ingress", "namespace": "cattle-system", "annotations": annotations}
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": metadata,
            "data": {"tls.crt": base64.b64encode(CERT.encode()).decode(), "tls.key": "a2V5"}}


def objects(ingress: dict | None = None, ca: bool | str = False, certificate: bool = False, api: str = "ok") -> dict:
    """The fact's value from the command's output: an object found prints its name, ``ca`` a string: that line."""
    # the Secret's certificate read: tls.crt's base64, then the annotations' JSON
    printed = [ingress["data"]["tls.crt"], json.dumps(ingress["metadata"]["annotations"])] if ingress else []
    ca_lines = [ca] if isinstance(ca, str) else ["tls-ca"] if ca else []
    lines = ["### api", api, "### ingress", *printed, "### ca", *ca_lines,
             "### certificate", *(["tls-rancher-ingress"] if certificate else [])]
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


def test_the_command_reads_each_object_in_cattle_system():
    assert [(read["section"], read["read"], read.get("path")) for read in reads_of(RancherTlsObjects().command())] == [
        ("api", "readyz", None),
        ("ingress", "certificate", "/api/v1/namespaces/cattle-system/secrets/tls-rancher-ingress"),
        ("ca", "exists", "/api/v1/namespaces/cattle-system/secrets/tls-ca"),
        ("certificate", "exists", "/apis/cert-manager.io/v1/namespaces/cattle-system/certificates/tls-rancher-ingress")]


def test_the_command_never_names_the_secrets_key():
    assert "tls.key" not in json.dumps(reads_of(RancherTlsObjects().command()))


def test_an_api_that_does_not_answer_is_an_error_not_absent_objects():
    refused = "Kubernetes API https://127.0.0.1:6443: [Errno 111] Connection refused"
    assert objects(api=refused)["error"] == refused


def test_a_refused_read_of_one_object_is_an_error_not_a_present_object():
    forbidden = 'Kubernetes API GET /api/v1/namespaces/cattle-system/secrets/tls-ca: 403 Forbidden: secrets "tls-ca" is forbidden'
    assert (objects(ca=forbidden)["error"], objects(ca=forbidden)["ca_secret"]) == (forbidden, False)


def test_a_readyz_answer_other_than_ok_is_an_error():
    assert objects(api="[-]etcd failed")["error"] == "Kubernetes API: /readyz answered '[-]etcd failed'"
