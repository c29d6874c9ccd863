"""The certificate Rancher is served with, as ``rancher.tls`` says, validated before anything is written.

* ``rancher``: Rancher's own CA (the ``cattle-system/tls-rancher`` Secret Rancher creates) signs the
  Ingress certificate through cert-manager; nothing comes from the inventory.
* ``secret``: the secrets ``rancher_tls_cert`` and ``rancher_tls_key`` become the Secret
  ``cattle-system/tls-rancher-ingress`` that Rancher's Ingress names; ``rancher_tls_ca`` (a private CA)
  becomes ``tls-ca`` (key ``cacerts.pem``) with the chart's ``privateCA: true`` (Rancher docs "Adding TLS
  Secrets").
* ``external``: HAProxy ends TLS with the same certificate and key.

Pure: the certificate is read with Python's own X.509 decoder and the pair loaded as a TLS server
would (``ssl.SSLContext.load_cert_chain``), so a certificate that does not name ``rancher_hostname``,
has expired, or a key that is not the certificate's (HAProxy's ``haproxy -c`` and Traefik refuse the
pair) fails the run naming the field. The key is never shown.

Example:
    material = tls_material("secret", hostname, data)   # TlsMaterial(cert=..., key=..., ca=None)
"""

from __future__ import annotations

import ssl
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.settings import InvalidField

PEM_CERT = "-----BEGIN CERTIFICATE-----"
PEM_KEYS = ("-----BEGIN PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----")


@dataclass(frozen=True)
class TlsMaterial:
    cert: str
    key: str = field(repr=False)
    ca: str | None = None


@contextmanager
def _files(*texts: str) -> Iterator[list[str]]:
    """The texts in files of a private (0700) temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        paths = [Path(directory) / f"{index}.pem" for index in range(len(texts))]
        for path, text in zip(paths, texts, strict=True):
            path.write_text(text)
        yield [str(path) for path in paths]


def decoded(pem: str) -> dict[str, Any]:
    """The first certificate of ``pem`` as ``ssl`` decodes it (subject, subjectAltName, notAfter)."""
    with _files(pem) as (path,):
        try:
            return ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined]  # no public decoder
        except ssl.SSLError as error:
            # the decoder's errors carry a message only, no OpenSSL reason
            raise ValueError(f"not a PEM certificate: {error.args[0] if error.args else 'unreadable'}") from None


def key_problem(cert: str, key: str) -> str | None:
    """Why a TLS server could not serve ``cert`` with ``key``, without a word of the key; None if it can."""
    with _files(cert, key) as (cert_path, key_path):
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)
        except ssl.SSLError as error:
            reason = getattr(error, "reason", None) or "unreadable"
            return "not the key of rancher_tls_cert" if reason == "KEY_VALUES_MISMATCH" else \
                f"not a usable PEM private key ({reason})"
    return None


def names_of(certificate: Mapping[str, Any]) -> list[str]:
    return [value.lower() for kind, value in certificate.get("subjectAltName") or () if kind == "DNS"]


def covers(names: list[str], hostname: str) -> bool:
    """Whether a DNS SAN names ``hostname`` (one leading ``*`` label allowed, as browsers match)."""
    for name in names:
        if name == hostname or (name.startswith("*.") and hostname.partition(".")[2] == name[2:]):
            return True
    return False


def _text(data: Mapping[str, Any], key: str, mode: str) -> str:
    found = data.get(key)
    if not isinstance(found, str) or not found.strip():
        raise InvalidField(key, f"missing: rancher.tls {mode} needs it in the secrets_file or {key.upper()}")
    return found.strip() + "\n"


def tls_material(mode: str, hostname: str, data: Mapping[str, Any]) -> TlsMaterial | None:
    """The certificate, key and optional CA for ``secret``/``external``; None for ``rancher``."""
    if mode == "rancher":
        return None
    cert, key = _text(data, "rancher_tls_cert", mode), _text(data, "rancher_tls_key", mode)
    if PEM_CERT not in cert:
        raise InvalidField("rancher_tls_cert", "not a PEM certificate")
    if not key.lstrip().startswith(PEM_KEYS):
        # the value itself is a secret: only its shape is wrong in the message
        raise InvalidField("rancher_tls_key", "not a PEM private key")
    try:
        certificate = decoded(cert)
    except ValueError as error:
        raise InvalidField("rancher_tls_cert", str(error)) from None
    if not covers(names_of(certificate), hostname):
        raise InvalidField("rancher_tls_cert", f"does not name {hostname} (its DNS names: "
                                               f"{', '.join(names_of(certificate)) or 'none'})")
    if ssl.cert_time_to_seconds(certificate["notAfter"]) < time.time():
        raise InvalidField("rancher_tls_cert", f"expired {certificate['notAfter']}")
    problem = key_problem(cert, key)
    if problem:
        raise InvalidField("rancher_tls_key", problem)
    ca = data.get("rancher_tls_ca")
    if ca is not None and (not isinstance(ca, str) or PEM_CERT not in ca):
        raise InvalidField("rancher_tls_ca", "not a PEM certificate")
    if ca is not None:
        try:
            decoded(ca)
        except ValueError as error:
            raise InvalidField("rancher_tls_ca", str(error)) from None
    return TlsMaterial(cert=cert, key=key, ca=ca.strip() + "\n" if ca else None)
