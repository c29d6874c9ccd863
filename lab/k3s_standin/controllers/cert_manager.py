"""cert-manager's controller, as far as the Rancher path uses it (cert-manager/cert-manager v1.16:
pkg/issuer/ca/setup.go, pkg/issuer/selfsigned/setup.go, pkg/issuer/acme/setup.go,
pkg/controller/certificate-shim/ingresses, pkg/controller/certificates/{issuing,readiness}). It acts
only while a cert-manager controller Deployment (`app.kubernetes.io/name=cert-manager`,
`app.kubernetes.io/component=controller`) has a ready replica and cert-manager.io/v1 is served:

* Issuers and ClusterIssuers get `Ready`: CA issuers KeyPairVerified "Signing CA verified" once
  `spec.ca.secretName` holds a CA key pair, else ErrGetKeyPair "Error getting keypair for CA issuer:
  ..."; SelfSigned IsReady; ACME ErrRegisterACMEAccount (no ACME server is reachable air-gapped).
* ingress-shim: an Ingress annotated `cert-manager.io/issuer` (or `cluster-issuer`) gets, per `tls`
  entry, a Certificate named after its secret (dnsNames = hosts, owned by the Ingress).
* A Certificate whose issuer is Ready is issued into its Secret (kubernetes.io/tls: tls.crt, tls.key,
  ca.crt, cert-manager's annotations); until then Ready=False DoesNotExist "Issuing certificate as
  Secret does not exist" and Issuing=True; issued: Ready=True "Certificate is up to date and has not
  expired", Issuing gone, notBefore/notAfter/revision. A changed dnsNames list re-issues.
CertificateRequest objects, renewal and ACME orders are left out.

Example:
    CertManager(api).reconcile()
"""

from __future__ import annotations

import base64
from typing import Any

from k3s_standin.client import ApiError, Client, object_path, path
from k3s_standin.controllers import clock, conditions, events, log, names, x509

Obj = dict[str, Any]

API = "cert-manager.io/v1"
COMPONENT = "cert-manager-certificates-issuing"
ISSUER_ANNOTATION, CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/issuer", "cert-manager.io/cluster-issuer"
NOT_ISSUED = "Issuing certificate as Secret does not exist"


def secret_bytes(secret: Obj | None, key: str) -> bytes | None:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value) if value else None


def running(api: Client) -> bool:
    """A ready cert-manager controller, and its API group served."""
    if api.find(f"/apis/{API}") is None:
        return False
    controllers = api.list(path("apps/v1", "deployments"),
                           labelSelector="app.kubernetes.io/name=cert-manager,app.kubernetes.io/component=controller")
    return any(int((item.get("status") or {}).get("readyReplicas", 0)) > 0 for item in controllers)


def shim_certificates(ingress: Obj) -> list[Obj]:
    """The Certificates ingress-shim wants for one Ingress."""
    meta = ingress["metadata"]
    annotations = meta.get("annotations") or {}
    if annotations.get(ISSUER_ANNOTATION):
        issuer = {"name": annotations[ISSUER_ANNOTATION], "kind": annotations.get("cert-manager.io/issuer-kind", "Issuer"),
                  "group": annotations.get("cert-manager.io/issuer-group", "cert-manager.io")}
    elif annotations.get(CLUSTER_ISSUER_ANNOTATION):
        issuer = {"name": annotations[CLUSTER_ISSUER_ANNOTATION], "kind": "ClusterIssuer", "group": "cert-manager.io"}
    else:
        return []
    return [{"apiVersion": API, "kind": "Certificate",
             "metadata": {"name": tls["secretName"], "namespace": meta["namespace"],
                          "ownerReferences": [names.owner_reference("networking.k8s.io/v1", "Ingress", ingress)]},
             "spec": {"dnsNames": list(tls.get("hosts") or []), "secretName": tls["secretName"], "issuerRef": issuer,
                      "usages": ["digital signature", "key encipherment"]}}
            for tls in (ingress.get("spec") or {}).get("tls") or [] if tls.get("secretName")]


class CertManager:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        if not running(self.api):
            return
        for resource in ("issuers", "clusterissuers"):
            for issuer in self.api.list(path(API, resource)):
                self.check_issuer(resource, issuer)
        if self.api.find("/apis/networking.k8s.io/v1") is not None:
            for ingress in self.api.list(path("networking.k8s.io/v1", "ingresses")):
                for certificate in shim_certificates(ingress):
                    self.ensure_certificate(ingress, certificate)
        for certificate in self.api.list(path(API, "certificates")):
            self.issue(certificate)

    def issuer_secret(self, namespace: str, name: str) -> Obj | None:
        return self.api.find(path("v1", "secrets", namespace, name))

    def issuer_state(self, issuer: Obj) -> tuple[str, str, str]:
        """(Ready status, reason, message) the issuer's setup reports."""
        spec = issuer.get("spec") or {}
        if "selfSigned" in spec:
            return "True", "IsReady", ""
        if "ca" in spec:
            namespace = issuer["metadata"].get("namespace") or "cert-manager"
            name = spec["ca"].get("secretName", "")
            secret = self.issuer_secret(namespace, name)
            crt, key = secret_bytes(secret, "tls.crt"), secret_bytes(secret, "tls.key")
            if secret is None:
                return "False", "ErrGetKeyPair", f'Error getting keypair for CA issuer: secrets "{name}" not found'
            if not crt or not key or not x509.is_ca(crt):
                return "False", "ErrInvalidKeyPair", "Error getting keypair for CA issuer: certificate is not a CA"
            return "True", "KeyPairVerified", "Signing CA verified"
        if "acme" in spec:
            server = spec["acme"].get("server", "")
            host = server.split("://", 1)[-1].split("/", 1)[0]
            return ("False", "ErrRegisterACMEAccount", f'Failed to register ACME account: Get "{server}": dial tcp: '
                    f"lookup {host} on 10.43.0.10:53: server misbehaving")
        return "False", "ErrInitIssuer", "Error initializing issuer: no issuer type configured"

    def check_issuer(self, resource: str, issuer: Obj) -> None:
        value, reason, message = self.issuer_state(issuer)

        def write(obj: Obj) -> bool:
            return conditions.set_condition(obj.setdefault("status", {}), "Ready", value, reason, message,
                                            clock.rfc3339(), update_stamp="")

        self.api.mutate(object_path(API, resource, issuer, "status"), write)

    def ensure_certificate(self, ingress: Obj, certificate: Obj) -> None:
        meta = certificate["metadata"]
        url = path(API, "certificates", meta["namespace"], meta["name"])
        current = self.api.find(url)
        if current is None:
            self.api.create(path(API, "certificates", meta["namespace"]), certificate)
            events.record(self.api, "Ingress", dict(ingress, apiVersion="networking.k8s.io/v1"), "Normal",
                          "CreateCertificate", f'Successfully created Certificate "{meta["name"]}"',
                          "cert-manager-ingress-shim")
        elif current.get("spec") != certificate["spec"]:
            self.api.update(url, dict(current, spec=certificate["spec"]))

    def signer(self, certificate: Obj) -> tuple[bool, bytes | None, bytes | None]:
        """(issuer ready, CA certificate, CA key); no CA for a self-signed issuer."""
        ref = certificate["spec"].get("issuerRef") or {}
        namespace = certificate["metadata"]["namespace"]
        if ref.get("kind") == "ClusterIssuer":
            issuer = self.api.find(path(API, "clusterissuers", name=ref.get("name")))
        else:
            issuer = self.api.find(path(API, "issuers", namespace, ref.get("name")))
        if issuer is None:
            return False, None, None
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (issuer.get("status") or {}).get("conditions") or [])
        if not ready or "ca" not in issuer["spec"]:
            return ready, None, None
        secret = self.issuer_secret(issuer["metadata"].get("namespace") or "cert-manager", issuer["spec"]["ca"]["secretName"])
        return True, secret_bytes(secret, "tls.crt"), secret_bytes(secret, "tls.key")

    def issue(self, certificate: Obj) -> None:
        meta, spec = certificate["metadata"], certificate.get("spec") or {}
        names_wanted = list(spec.get("dnsNames") or [])
        secret_url = path("v1", "secrets", meta["namespace"], spec.get("secretName", ""))
        secret = self.api.find(secret_url)
        annotations = (secret or {}).get("metadata", {}).get("annotations") or {}
        if secret is not None and annotations.get("cert-manager.io/alt-names") == ",".join(names_wanted):
            return
        ready, ca_crt, ca_key = self.signer(certificate)
        if not ready:
            self.write_certificate_status(certificate, "False", "DoesNotExist", NOT_ISSUED, issuing=True)
            return
        crt, key = x509.issue(names_wanted, ca_crt, ca_key)
        ref = spec.get("issuerRef") or {}
        body: Obj = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": spec["secretName"], "namespace": meta["namespace"],
                             "labels": {"controller.cert-manager.io/fao": "true"},
                             "annotations": {"cert-manager.io/certificate-name": meta["name"],
                                             "cert-manager.io/issuer-name": ref.get("name", ""),
                                             "cert-manager.io/issuer-kind": ref.get("kind", "Issuer"),
                                             "cert-manager.io/issuer-group": ref.get("group", "cert-manager.io"),
                                             "cert-manager.io/common-name": names_wanted[0] if names_wanted else "",
                                             "cert-manager.io/alt-names": ",".join(names_wanted)}},
                "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(key).decode(),
                         "ca.crt": base64.b64encode(ca_crt or crt).decode()}}
        try:
            if secret is None:
                self.api.create(path("v1", "secrets", meta["namespace"]), body)
            else:
                body["metadata"] = dict(secret["metadata"], labels=body["metadata"]["labels"],
                                        annotations=body["metadata"]["annotations"])
                self.api.update(secret_url, body)
        except ApiError as error:
            log.error(f"Certificate {meta['namespace']}/{meta['name']}: {error}")
            return
        not_before, not_after = x509.validity(crt)
        self.write_certificate_status(certificate, "True", "Ready", "Certificate is up to date and has not expired",
                                      issuing=False, validity=(not_before, not_after))
        events.record(self.api, "Certificate", dict(certificate, apiVersion=API), "Normal", "Issuing",
                      "The certificate has been successfully issued", COMPONENT)
        log.info(f"Certificate {meta['namespace']}/{meta['name']} issued into Secret {spec['secretName']}")

    def write_certificate_status(self, certificate: Obj, value: str, reason: str, message: str, issuing: bool,
                                 validity: tuple[str, str] | None = None) -> None:
        def write(obj: Obj) -> bool:
            status = obj.setdefault("status", {})
            before = repr(status)
            now = clock.rfc3339()
            conditions.set_condition(status, "Ready", value, reason, message, now, update_stamp="")
            if issuing:
                conditions.set_condition(status, "Issuing", "True", reason, message, now, update_stamp="")
            else:
                status["conditions"] = [c for c in status["conditions"] if c.get("type") != "Issuing"]
            if validity:
                status.update(notBefore=validity[0], notAfter=validity[1], revision=int(status.get("revision", 0)) + 1)
            for item in status["conditions"]:
                item.setdefault("observedGeneration", obj["metadata"].get("generation", 1))
            return repr(status) != before

        self.api.mutate(object_path(API, "certificates", certificate, "status"), write)
