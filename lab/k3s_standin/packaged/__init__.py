"""What `k3s server` writes at start (k3s-io/k3s pkg/server/server.go `stageFiles`, pkg/deploy/stage.go,
pkg/static/stage.go): its packaged manifests into `<data-dir>/server/manifests` (coredns.yaml,
local-storage.yaml, metrics-server/*.yaml, traefik.yaml; rewritten on every start, templated with the
cluster DNS address and the release's images) and its packaged charts into
`<data-dir>/server/static/charts` (traefik and traefik-crd, real chart archives), which the
HelmCharts of traefik.yaml reference as `https://%{KUBERNETES_API}%/static/charts/<file>`.
A component named in `disable:` is not written (Stage's skip list); the deploy controller deletes
a disabled component's existing file and objects (`manifests.py`).

Trimmed to the kinds the stand-in serves: the RBAC objects (rolebindings.yaml, the ClusterRoles and
bindings of each component), StorageClass and APIService are left out.

Example:
    stage(options)   # writes the files; returns the paths written
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

import yaml

from k3s_standin import release
from k3s_standin.helm import archive
from k3s_standin.packaged import components

Obj = dict[str, Any]


def cluster_dns(service_cidr: str) -> str:
    """k3s's default cluster DNS: the tenth address of the service CIDR (10.43.0.10)."""
    return str(ipaddress.ip_network(service_cidr.split(",")[0], strict=False).network_address + 10)


def manifests(dns: str) -> dict[str, list[Obj]]:
    """Relative path -> objects, by component."""
    return {"coredns.yaml": components.coredns(dns), "local-storage.yaml": components.local_storage(),
            "metrics-server/metrics-server-deployment.yaml": components.metrics_server_deployment(),
            "metrics-server/metrics-server-service.yaml": components.metrics_server_service(),
            "traefik.yaml": components.traefik()}


def component_of(relative: str) -> str:
    """The `disable:` name a manifest belongs to: its directory, else its base name."""
    return relative.split("/")[0].removesuffix(".yaml")


def write(file_path: str, data: bytes, mode: int) -> None:
    os.makedirs(os.path.dirname(file_path), exist_ok=True)
    with open(file_path, "wb") as handle:
        handle.write(data)
    os.chmod(file_path, mode)


def static_charts() -> dict[str, bytes]:
    return {release.TRAEFIK_CHART: archive.build(components.TRAEFIK_CHART_META, components.TRAEFIK_DEFAULTS),
            release.TRAEFIK_CRD_CHART: archive.build(components.TRAEFIK_CRD_CHART_META, {})}


def stage(options: Any) -> list[str]:
    """Write the packaged manifests (0600, as k3s) and static charts; returns the paths written."""
    server_dir = os.path.join(options.data_dir, "server")
    written = []
    for relative, objects in manifests(cluster_dns(options.service_cidr)).items():
        if component_of(relative) in options.disable:
            continue
        target = os.path.join(server_dir, "manifests", relative)
        write(target, yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True).encode(), 0o600)
        written.append(target)
    for name, data in static_charts().items():
        target = os.path.join(server_dir, "static", "charts", name)
        write(target, data, 0o644)
        written.append(target)
    return written
