"""The stand-in's kube-apiserver: HTTPS Kubernetes API over an object store committed to sqlite
(or, in an HA cluster, to embedded etcd: `etcd_store.py`).

Upstream: kubernetes/kubernetes staging/src/k8s.io/apiserver (the generic API server this stands in for).

Example:
    server = start(options, pki, token, advertised_address(options))   # serves in a daemon thread
    ...
    server.operations.store.close()
"""

from __future__ import annotations

import os
import ssl
import subprocess
import threading
from collections.abc import Callable

from k3s_standin.apiserver import pod_logs
from k3s_standin.apiserver.admission import Admission
from k3s_standin.apiserver.auth import anonymous_enabled
from k3s_standin.apiserver.bootstrap import ensure_system_objects
from k3s_standin.apiserver.http import ApiServer
from k3s_standin.apiserver.node_certs import NodeCertificates
from k3s_standin.apiserver.operations import Operations
from k3s_standin.apiserver.store import Store
from k3s_standin.certs import Pki, token_password
from k3s_standin.client_cert_request import request_client_cert
from k3s_standin.options import Options


def advertised_address(options: Options) -> str:
    """The address other nodes reach this server on: advertise-address, node-ip, else the first
    global IPv4 address of the host."""
    if options.advertise_address or options.node_ip:
        return options.advertise_address or options.node_ip
    result = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                            capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        fields = line.split()
        if "inet" in fields:
            return fields[fields.index("inet") + 1].split("/")[0]
    return "127.0.0.1"


def _tls_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.serving_cert, pki.serving_key)
    request_client_cert(context, pki.client_ca)
    context.set_alpn_protocols(["http/1.1"])
    return context


def start(options: Options, pki: Pki, token: str, address: str, store: Store | None = None,
          supervisor: dict[str, Callable[[], dict]] | None = None) -> ApiServer:
    """Load the state, create the system objects and serve HTTPS on https-listen-port;
    `address` is what the `default/kubernetes` endpoints and discovery advertise. `store` is an
    HA server's etcd store (sqlite in `db/state.db` otherwise); `supervisor` its extra routes."""
    store = store or Store(os.path.join(options.server_dir, "db", "state.db"))
    operations = Operations(store, Admission(options.service_cidr, dict(options.kube_apiserver_args)))
    ensure_system_objects(operations, options, address)
    with open(pki.server_ca, "rb") as handle:
        ca_pem = handle.read()
    kubelets = pod_logs.kubelet_context(pki.server_ca, pki.kube_apiserver_cert, pki.kube_apiserver_key)
    password = token_password(token)
    server = ApiServer((options.bind_address, options.https_listen_port), _tls_context(pki), operations,
                       password, ca_pem, f"{address}:{options.https_listen_port}", supervisor,
                       os.path.join(options.server_dir, "static"), kubelets, NodeCertificates(pki, password),
                       anonymous_enabled(options.kube_apiserver_args))
    threading.Thread(target=server.serve_forever, name="apiserver", daemon=True).start()
    return server
