"""Real certificates for tests, made with the ``openssl`` CLI: a CA in a directory that issues leaf
certificates for given DNS names, valid or already expired.

Expired certificates come from ``openssl ca -startdate/-enddate`` (openssl 3.0 has no ``x509
-not_after`` and refuses ``-days 0``).

Example:
    ca = CertificateAuthority(tmp_path)
    leaf = ca.issue(["rancher.example.net"])     # Pem(cert=..., key=...)
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

# The Rancher hostname the unit tests issue certificates for (conftest.py's ``leaf``).
HOSTNAME = "rancher.example.net"

CA_CONFIG = """\
[ca]
default_ca = issuing
[issuing]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
"""
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pem:
    cert: str
    key: str


def openssl(directory: Path, *arguments: str) -> None:
    subprocess.run(["openssl", *arguments], cwd=directory, check=True, capture_output=True, timeout=30)


class CertificateAuthority:
    """A CA in ``directory``; ``pem`` is its own certificate and key."""

    def __init__(self, directory: Path, name: str = "k3s-lxc-resilience test CA") -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.cnf").write_text(CA_CONFIG)
        (directory / "index.txt").write_text("")
        (directory / "serial").write_text("01\n")
        openssl(directory, "req", "-x509", *EC_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-subj", f"/CN={name}",
                "-days", "2")
        self.pem = Pem((directory / "ca.crt").read_text(), (directory / "ca.key").read_text())
        self.issued = 0

    def issue(self, names: list[str], expired: bool = False, common_name: str = "rancher") -> Pem:
        """A leaf naming ``names`` as DNS subjectAltNames (none: only the common name)."""
        self.issued += 1
        stem = f"leaf{self.issued}"
        san = ["-addext", "subjectAltName=" + ",".join(f"DNS:{name}" for name in names)] if names else []
        openssl(self.directory, "req", "-new", *EC_KEY, "-keyout", f"{stem}.key", "-out", f"{stem}.csr",
                "-subj", f"/CN={common_name}", *san)
        dates = ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"] if expired else ["-days", "2"]
        openssl(self.directory, "ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile", "ca.key",
                "-in", f"{stem}.csr", "-out", f"{stem}.crt", *dates)
        return Pem((self.directory / f"{stem}.crt").read_text(), (self.directory / f"{stem}.key").read_text())
