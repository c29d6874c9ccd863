"""tls_objects_current: given what serves Rancher's certificate now, the commands that bring it in
line with ``rancher.tls`` after a mode change (k3s never prunes, cert-manager keeps rewriting)."""

from __future__ import annotations

import hashlib
import re

import pytest
from pyinfra.api.exceptions import OperationError

from tasks.rancher import tls_objects_current
from tests.unit.operation_outputs import run

CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUb3Bz\n-----END CERTIFICATE-----\n"
OPERATORS = {"sha256": hashlib.sha256(CERT.encode()).hexdigest(), "issued": False}
ISSUED = {"sha256": hashlib.sha256(b"issued by cert-manager").hexdigest(), "issued": True}
DELETE = "k3s kubectl -n cattle-system delete {} --ignore-not-found"
DELETE_CERTIFICATE = DELETE.format("certificates.cert-manager.io tls-rancher-ingress")
DELETE_SECRET = DELETE.format("secret tls-rancher-ingress")
DELETE_CA = DELETE.format("secret tls-ca")
APPLY = "k3s kubectl apply -f /var/lib/rancher/k3s/server/manifests/rancher-tls.yaml"


def converge(tls: str, ingress: dict | None, ca: bool = False, certificate: bool = False,
             cert: str | None = None, private_ca: bool = False) -> tuple[list, str | None]:
    facts = {"RancherTlsObjects": {"error": "", "ingress_secret": ingress, "ca_secret": ca, "certificate": certificate}}
    commands, host = run(tls_objects_current, facts=facts, tls=tls, cert=cert, private_ca=private_ca)
    return commands, host.noop_description


def test_rancher_mode_deletes_the_operators_secret_so_cert_manager_issues_it():
    assert converge("rancher", OPERATORS) == ([DELETE_SECRET], None)


def test_rancher_mode_keeps_what_cert_manager_issued():
    assert converge("rancher", ISSUED, certificate=True) == (
        [], "Rancher's certificate objects match rancher.tls rancher")


def test_secret_mode_deletes_ingress_shims_certificate_then_applies_the_operators_secret():
    assert converge("secret", ISSUED, certificate=True, cert=CERT) == ([DELETE_CERTIFICATE, APPLY], None)


def test_secret_mode_applies_again_while_the_certificate_exists_even_with_the_operators_secret():
    # cert-manager would overwrite the Secret again until its Certificate is gone
    assert converge("secret", OPERATORS, certificate=True, cert=CERT) == ([DELETE_CERTIFICATE, APPLY], None)


@pytest.mark.parametrize("ingress", [None, ISSUED])
def test_secret_mode_applies_when_the_secret_lacks_the_operators_certificate(ingress):
    assert converge("secret", ingress, cert=CERT) == ([APPLY], None)


def test_secret_mode_with_the_operators_secret_in_place_is_a_noop():
    assert converge("secret", OPERATORS, cert=CERT) == ([], "Rancher's certificate objects match rancher.tls secret")


def test_external_mode_deletes_ingress_shims_certificate_only():
    assert converge("external", ISSUED, certificate=True, cert=CERT) == ([DELETE_CERTIFICATE], None)


def test_tls_ca_is_deleted_without_a_private_ca():
    assert converge("secret", OPERATORS, ca=True, cert=CERT) == ([DELETE_CA], None)


def test_a_missing_tls_ca_with_a_private_ca_applies_the_manifest():
    assert converge("external", None, cert=CERT, private_ca=True) == ([APPLY], None)


def test_a_private_ca_in_place_is_kept():
    assert converge("external", None, ca=True, cert=CERT, private_ca=True) == (
        [], "Rancher's certificate objects match rancher.tls external")


def test_an_api_that_does_not_answer_stops_the_host_instead_of_guessing():
    refused = "Kubernetes API https://127.0.0.1:6443: [Errno 111] Connection refused"
    facts = {"RancherTlsObjects": {"error": refused, "ingress_secret": None, "ca_secret": False, "certificate": False}}
    with pytest.raises(OperationError, match=re.escape(refused)):
        run(tls_objects_current, facts=facts, tls="secret", cert=CERT, private_ca=False)
