"""X.509 material made with the openssl CLI (as `certs.py` does for the cluster PKI), returned as PEM
for Secrets: a CA the way dynamiclistener's `factory.GenCA` makes Rancher's (ECDSA P-256,
CN `dynamiclistener-ca@<unix time>`, O `dynamiclistener-org`, ten years), and leaf certificates the
way cert-manager issues them by default (RSA 2048, usages digital signature and key encipherment,
the DNS names as subjectAltName, 90 days), signed by a CA or self-signed.

Example:
    ca_crt, ca_key = new_ca(); crt, key = issue(["rancher.lab"], ca_crt, ca_key)
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time

CA_DAYS, LEAF_DAYS = "3650", "90"


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def new_ca() -> tuple[bytes, bytes]:
    """(certificate, key) of a new self-signed CA."""
    key = openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout")
    with tempfile.TemporaryDirectory() as directory:
        key_path = os.path.join(directory, "ca.key")
        with open(key_path, "wb") as handle:
            handle.write(key)
        crt = openssl("req", "-x509", "-new", "-key", key_path, "-days", CA_DAYS,
                      "-subj", f"/O=dynamiclistener-org/CN=dynamiclistener-ca@{int(time.time())}",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign")
    return crt, key


def issue(dns_names: list[str], ca_crt: bytes | None, ca_key: bytes | None) -> tuple[bytes, bytes]:
    """(certificate, key) for `dns_names`, signed by the CA, or self-signed when none is given."""
    san = ",".join(f"DNS:{name}" for name in dns_names)
    with tempfile.TemporaryDirectory() as directory:
        def file(name: str, data: bytes) -> str:
            target = os.path.join(directory, name)
            with open(target, "wb") as handle:
                handle.write(data)
            return target

        key = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
        key_path = file("tls.key", key)
        extensions = file("leaf.ext", ("basicConstraints=critical,CA:FALSE\n"
                                       "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                       f"subjectAltName={san}\n").encode())
        subject = f"/CN={dns_names[0]}" if dns_names else "/O=cert-manager"
        csr = openssl("req", "-new", "-key", key_path, "-subj", subject)
        if ca_crt is None or ca_key is None:
            signer = ["-signkey", key_path]
        else:
            signer = ["-CA", file("ca.crt", ca_crt), "-CAkey", file("ca.key", ca_key),
                      "-set_serial", str(int.from_bytes(os.urandom(8), "big"))]
        crt = openssl("x509", "-req", *signer, "-days", LEAF_DAYS, "-extfile", extensions, stdin=csr)
    return crt, key


def is_ca(crt: bytes) -> bool:
    text = openssl("x509", "-noout", "-text", stdin=crt).decode()
    return "CA:TRUE" in text


def validity(crt: bytes) -> tuple[str, str]:
    """(notBefore, notAfter) as RFC 3339."""
    lines = openssl("x509", "-noout", "-startdate", "-enddate", stdin=crt).decode().splitlines()
    stamps = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.strptime(line.split("=", 1)[1].replace(" GMT", ""),
                                                                 "%b %d %H:%M:%S %Y")) for line in lines]
    return stamps[0], stamps[1]
