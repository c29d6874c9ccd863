"""Rancher's own CA (rancher/rancher pkg/tls, rancher/dynamiclistener factory `GenCA` and its
Kubernetes storage): once a Rancher server pod (`cattle-system`, label `app=rancher`) is Ready, the
Secret `cattle-system/tls-rancher` (kubernetes.io/tls: tls.crt the CA certificate, tls.key its key)
exists, created if missing and never replaced. The chart's `Issuer rancher` (`ca.secretName:
tls-rancher`) signs `tls-rancher-ingress` with it, so clients trust the cattle CA.

Example:
    RancherCA(api).reconcile()
"""

from __future__ import annotations

import base64

from k3s_standin.client import Client, path
from k3s_standin.controllers import log, x509
from k3s_standin.controllers.replicaset import pod_ready

NAMESPACE, SECRET = "cattle-system", "tls-rancher"


class RancherCA:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        if not any(pod_ready(pod) for pod in self.api.list(path("v1", "pods", NAMESPACE), labelSelector="app=rancher")):
            return
        if self.api.find(path("v1", "secrets", NAMESPACE, SECRET)) is not None:
            return
        crt, key = x509.new_ca()
        self.api.create(path("v1", "secrets", NAMESPACE), {
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": SECRET, "namespace": NAMESPACE},
            "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(key).decode()}})
        log.info(f"Rancher created its CA in Secret {NAMESPACE}/{SECRET}")
