"""The lab's own certificate authority and a certificate for Rancher's hostname, as an operator
brings them for `rancher.tls: secret` or `external`: made once with the openssl CLI, kept in
lab/build/tls (the key 0600), and put into the lab's secrets file.

Example:

    cert, key, ca = rancher_certificate("rancher.lab.test")
"""

from __future__ import annotations

import subprocess
from topology import BUILD_DIR

TLS_DIR = BUILD_DIR / "tls"


def _openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True)


def rancher_certificate(hostname: str) -> tuple[str, str, str]:
    """(certificate, key, CA certificate) PEM texts for ``hostname``, signed by the lab's CA."""
    TLS_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key, ca_cert = TLS_DIR / "ca.key", TLS_DIR / "ca.crt"
    key, cert = TLS_DIR / f"{hostname}.key", TLS_DIR / f"{hostname}.crt"
    if not (ca_key.exists() and ca_cert.exists()):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-days", "3650", "-subj", "/O=k3s-lxc-resilience lab/CN=lab CA", "-keyout", str(ca_key),
                 "-out", str(ca_cert))
    if not (key.exists() and cert.exists()):
        request = TLS_DIR / f"{hostname}.csr"
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-subj", f"/CN={hostname}", "-keyout", str(key), "-out", str(request))
        extensions = TLS_DIR / f"{hostname}.ext"
        extensions.write_text(f"subjectAltName=DNS:{hostname}\nextendedKeyUsage=serverAuth\n")
        _openssl("x509", "-req", "-in", str(request), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-days", "825", "-extfile", str(extensions), "-out", str(cert))
    for secret in (ca_key, key):
        secret.chmod(0o600)
    return cert.read_text(), key.read_text(), ca_cert.read_text()
