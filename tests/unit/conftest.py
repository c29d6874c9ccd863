"""Fixtures shared by the unit tests: a throwaway CA and a leaf certificate for Rancher's hostname,
made by openssl (tests/unit/certificates.py)."""

from __future__ import annotations

import pytest

from tests.unit.certificates import HOSTNAME, CertificateAuthority, Pem


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def leaf(ca: CertificateAuthority) -> Pem:
    return ca.issue([HOSTNAME])
