"""
Which objects serve Rancher's certificate now, from a k3s control node (one ``facts.kube_reads`` run): the Secret
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

from facts import kube_reads
from facts.chart_status import section_texts
from facts.names import KUBE_API

NAMESPACE = "cattle-system"
INGRESS_SECRET = "tls-rancher-ingress"
CA_SECRET = "tls-ca"
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"
# Of the Secret only tls.crt and the annotations are printed: never its key.
READS = [
    {"section": "api", "read": "readyz"},
    {"section": "ingress", "read": "certificate", "path": f"{SECRETS}/{INGRESS_SECRET}"},
    {"section": "ca", "read": "exists", "path": f"{SECRETS}/{CA_SECRET}"},
    {"section": "certificate", "read": "exists",
     "path": f"/apis/cert-manager.io/v1/namespaces/{NAMESPACE}/certificates/{INGRESS_SECRET}"},
]


def tls_objects(sections: dict[str, str]) -> dict[str, Any]:
    """The objects' state from the sections; an API error in any of them is the ``error``."""
    answer = sections.get("api", "").strip()
    failed = [text.strip() for text in sections.values() if text.strip().startswith(kube_reads.FAILED)]
    error = failed[0] if failed else "" if answer == "ok" else f"{kube_reads.FAILED}: /readyz answered {answer!r}"
    ingress: dict[str, Any] | None = None
    cert_line, _, annotations_line = sections.get("ingress", "").strip().partition("\n")
    if cert_line.strip() and not error:
        annotations = json.loads(annotations_line) if annotations_line.strip().startswith("{") else {}
        ingress = {"sha256": hashlib.sha256(base64.b64decode(cert_line.strip())).hexdigest(),
                   "issued": "cert-manager.io/certificate-name" in annotations}
    return {"error": error, "ingress_secret": ingress, "ca_secret": sections.get("ca", "").strip() == CA_SECRET,
            "certificate": sections.get("certificate", "").strip() == INGRESS_SECRET}


class RancherTlsObjects(FactBase[dict[str, Any]]):
    """Returns the state of the objects that serve Rancher's certificate (see the module)."""

    def requires_command(self) -> str:
        return "k3s"

    def command(self) -> str:
        return kube_reads.command(KUBE_API, READS)

    def process(self, output: list[str]) -> dict[str, Any]:
        return tls_objects(section_texts(output))
