"""The operator's certificate for Rancher, checked with real certificates made by openssl."""

from __future__ import annotations

import pytest

from tasks.rancher_tls import TlsMaterial, covers, tls_material
from tasks.settings import InvalidField
from tests.unit.certificates import HOSTNAME, CertificateAuthority, Pem



def secrets(pem: Pem, **more: str) -> dict[str, str]:
    return {"rancher_tls_cert": pem.cert, "rancher_tls_key": pem.key, **more}


def refusal(data: dict, mode: str = "secret") -> InvalidField:
    with pytest.raises(InvalidField) as error:
        tls_material(mode, HOSTNAME, data)
    return error.value


def key_body(pem: Pem) -> str:
    """The key's base64 lines, which no message may hold."""
    return "".join(line for line in pem.key.splitlines() if not line.startswith("-----"))


@pytest.mark.parametrize("mode", ["secret", "external"])
def test_a_certificate_naming_the_hostname_is_taken_with_its_key(leaf, mode):
    assert tls_material(mode, HOSTNAME, secrets(leaf)) == TlsMaterial(cert=leaf.cert, key=leaf.key)


def test_rancher_mode_needs_no_material():
    assert tls_material("rancher", HOSTNAME, {}) is None


def test_a_private_ca_is_kept(ca, leaf):
    assert tls_material("secret", HOSTNAME, secrets(leaf, rancher_tls_ca=ca.pem.cert)).ca == ca.pem.cert


def test_a_wildcard_covers_one_label(ca):
    wildcard = ca.issue(["*.example.net"])
    assert tls_material("secret", HOSTNAME, secrets(wildcard)).cert == wildcard.cert


@pytest.mark.parametrize("names,hostname,covered", [
    (["*.example.net"], "a.b.example.net", False),
    (["*.example.net"], "example.net", False),
    (["*.rancher"], "rancher", False),
    (["other.example.net", "rancher.example.net"], "rancher.example.net", True),
])
def test_wildcards_match_as_browsers_do(names, hostname, covered):
    assert covers(names, hostname) is covered


def test_a_certificate_for_another_name_is_refused_with_its_names(ca):
    other = ca.issue(["other.example.net"])
    error = refusal(secrets(other))
    assert (error.field, error.problem) == (
        "rancher_tls_cert", "does not name rancher.example.net (its DNS names: other.example.net)")


def test_a_certificate_with_only_a_common_name_names_nothing(ca):
    bare = ca.issue([], common_name=HOSTNAME)
    assert refusal(secrets(bare)).problem == "does not name rancher.example.net (its DNS names: none)"


def test_an_expired_certificate_is_refused_with_its_end(ca):
    expired = ca.issue([HOSTNAME], expired=True)
    error = refusal(secrets(expired))
    assert (error.field, error.problem) == ("rancher_tls_cert", "expired Jan  2 00:00:00 2020 GMT")


@pytest.mark.parametrize("missing", ["rancher_tls_cert", "rancher_tls_key"])
@pytest.mark.parametrize("mode", ["secret", "external"])
def test_missing_material_names_the_secret(leaf, missing, mode):
    data = secrets(leaf)
    data[missing] = "  "
    error = refusal(data, mode)
    assert (error.field, error.problem) == (
        missing, f"missing: rancher.tls {mode} needs it in the secrets_file or {missing.upper()}")


def test_a_certificate_that_is_no_pem_is_refused(leaf):
    assert (refusal(secrets(Pem("rancher.crt", leaf.key))).field) == "rancher_tls_cert"


def test_a_bad_pem_body_is_refused_with_the_decoders_reason(leaf):
    broken = Pem("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", leaf.key)
    assert refusal(secrets(broken)).problem == "not a PEM certificate: Error decoding PEM-encoded file"


def test_a_key_that_is_no_pem_is_refused_without_showing_it(leaf):
    error = refusal(secrets(Pem(leaf.cert, "hunter2-secret-key")))
    assert (error.field, error.problem, "hunter2" in str(error)) == ("rancher_tls_key", "not a PEM private key", False)


def test_the_key_of_another_certificate_is_refused_without_showing_it(ca, leaf):
    stranger = ca.issue([HOSTNAME])
    error = refusal(secrets(Pem(leaf.cert, stranger.key)))
    assert (error.field, error.problem, key_body(stranger) in str(error)) == (
        "rancher_tls_key", "not the key of rancher_tls_cert", False)


def test_a_corrupt_key_is_refused_without_showing_it(leaf):
    corrupt = Pem(leaf.cert, leaf.key.replace(key_body(leaf)[:40], "A" * 40))
    error = refusal(secrets(corrupt))
    assert (error.field, error.problem.startswith("not a usable PEM private key"),
            key_body(corrupt)[:60] in str(error)) == ("rancher_tls_key", True, False)


def test_a_ca_that_is_no_certificate_is_refused(leaf):
    assert refusal(secrets(leaf, rancher_tls_ca="my CA")).field == "rancher_tls_ca"


def test_a_ca_with_a_bad_pem_body_is_refused(leaf):
    broken = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    assert refusal(secrets(leaf, rancher_tls_ca=broken)).problem == "not a PEM certificate: Error decoding PEM-encoded file"


def test_the_key_is_hidden_from_the_materials_repr(leaf):
    assert key_body(leaf)[:40] not in repr(tls_material("secret", HOSTNAME, secrets(leaf)))


def test_no_message_shows_the_key(ca, leaf):
    others = [ca.issue(["other.example.net"]), ca.issue([HOSTNAME], expired=True), ca.issue([])]
    messages = [str(refusal(secrets(Pem(other.cert, leaf.key)))) for other in others]
    assert [message for message in messages if key_body(leaf)[:40] in message or "PRIVATE KEY" in message] == []
