"""
Which objects serve Rancher's certificate now, from a k3s control node: the Secret
``cattle-system/tls-rancher-ingress`` (the sha256 of its ``tls.crt``, and whether cert-manager issued
it: its ``cert-manager.io/certificate-name`` annotation), the private CA Secret ``tls-ca``, and a
cert-manager ``Certificate`` of that name (ingress-shim's, left when the TLS mode changes: cert-manager
keeps rewriting its Secret until the Certificate is gone).

Example:

    host.get_fact(RancherTlsObjects)
    {"error": "", "ingress_secret": {"sha256": "9f2c...", "issued": True}, "ca_secret": False, "certificate": True}
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from pyinfra.api import FactBase

from facts.sections import split_sections

NAMESPACE = "cattle-system"
INGRESS_SECRET = "tls-rancher-ingress"
CA_SECRET = "tls-ca"
_MARK = "### "
# Only the certificate and the annotations of the Secret are read: never its key.
_COMMAND = f"""\
echo '{_MARK}api'; k3s kubectl get --raw /readyz 2>&1 | tail -n 1; echo
k() {{ k3s kubectl -n {NAMESPACE} get "$@" --ignore-not-found 2>/dev/null; }}
echo '{_MARK}ingress'; k secret {INGRESS_SECRET} -o 'jsonpath={{.data.tls\\.crt}}{{"\\n"}}{{.metadata.annotations}}'; echo
echo '{_MARK}ca'; k secret {CA_SECRET} -o name
echo '{_MARK}certificate'; k certificates.cert-manager.io {INGRESS_SECRET} -o name
true
"""


def tls_objects(sections: dict[str, str]) -> dict[str, Any]:
    """The objects' state from the command's sections."""
    ingress: dict[str, Any] | None = None
    cert_line, _, annotations_line = sections.get("ingress", "").strip().partition("\n")
    if cert_line.strip():
        annotations = json.loads(annotations_line) if annotations_line.strip().startswith("{") else {}
        ingress = {"sha256": hashlib.sha256(base64.b64decode(cert_line.strip())).hexdigest(),
                   "issued": "cert-manager.io/certificate-name" in annotations}
    answer = sections.get("api", "").strip()
    error = "" if answer == "ok" else f"kubectl failed: {answer or 'no answer'}"
    return {"error": error, "ingress_secret": ingress, "ca_secret": bool(sections.get("ca", "").strip()),
            "certificate": bool(sections.get("certificate", "").strip())}


class RancherTlsObjects(FactBase[dict[str, Any]]):
    """Returns the state of the objects that serve Rancher's certificate (see the module)."""

    def requires_command(self) -> str:
        return "k3s"

    def command(self) -> str:
        return _COMMAND

    def process(self, output: list[str]) -> dict[str, Any]:
        sections = split_sections(output, _MARK)
        return tls_objects({marker[len(_MARK):].strip(): "\n".join(lines) for marker, lines in sections.items() if marker})
