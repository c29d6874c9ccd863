"""Objects kube-apiserver creates for itself: the system namespaces and `default/kubernetes`
(Service on the first service-CIDR address, Endpoints on the advertised address).

Example:
    ensure_system_objects(operations, options, "10.213.0.101")
"""

from __future__ import annotations

import copy

from k3s_standin.apiserver import errors
from k3s_standin.apiserver.operations import Operations
from k3s_standin.apiserver.resources import REGISTRY
from k3s_standin.certs import kubernetes_service_ip
from k3s_standin.options import Options

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CONFLICT_RETRIES = 10


def ensure_system_objects(operations: Operations, options: Options, address: str) -> None:
    namespaces = REGISTRY.lookup("", "v1", "namespaces")
    for name in SYSTEM_NAMESPACES:
        _ensure(operations, namespaces, "", {"metadata": {"name": name}})
    labels = {"component": "apiserver", "provider": "kubernetes"}
    _ensure(operations, REGISTRY.lookup("", "v1", "services"), "default", {
        "metadata": {"name": "kubernetes", "labels": labels},
        "spec": {"type": "ClusterIP", "clusterIP": kubernetes_service_ip(options),
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                            "targetPort": options.https_listen_port}]}})
    endpoints = REGISTRY.lookup("", "v1", "endpoints")
    wanted_subsets = [{"addresses": [{"ip": address}],
                       "ports": [{"name": "https", "port": options.https_listen_port, "protocol": "TCP"}]}]
    for _ in range(CONFLICT_RETRIES):
        current = _ensure(operations, endpoints, "default", {
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": wanted_subsets})
        if current.get("subsets") == wanted_subsets:
            return
        updated = copy.deepcopy(current)
        updated["subsets"] = wanted_subsets
        try:
            operations.update(endpoints, "default", "kubernetes", updated)
            return
        except errors.ApiError as error:
            # Two HA servers starting together both rewrite it: read it again and retry, as the
            # apiserver's endpoint reconciler does (kubernetes pkg/controlplane/reconcilers:
            # a conflict is retried on its next pass).
            if error.code != 409:
                raise
    raise errors.modified("endpoints", "", "kubernetes")


def _ensure(operations: Operations, resource, namespace: str, obj: dict) -> dict:
    try:
        return operations.get(resource, namespace, obj["metadata"]["name"])
    except errors.ApiError:
        try:
            return operations.create(resource, namespace, obj)
        except errors.ApiError as error:
            if error.code != 409:  # another HA server created it first
                raise
            return operations.get(resource, namespace, obj["metadata"]["name"])
