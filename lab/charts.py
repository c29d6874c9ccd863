"""The chart archives an air-gapped operator downloads besides k3s, as the lab builds them into
`airgap_inputs.CHARTS_DIR`: the Rancher charts (RANCHER_CHART, OLD_RANCHER_CHART) and the cert-manager
chart, real `.tgz` files (`<name>/Chart.yaml` with apiVersion v2, name, version, appVersion,
kubeVersion; `<name>/values.yaml` with the defaults the stand-in's renderer reads, as the real charts'
values.yaml has them; a templates/ note). Rebuilt only when missing or changed.

Upstream: rancher/rancher `chart/Chart.yaml`, `chart/values.yaml`; cert-manager
`deploy/charts/cert-manager/Chart.template.yaml`, `values.yaml`.

Example:
    build_charts()["rancher-2.10.1.tgz"]   # PosixPath('lab/build/charts/rancher-2.10.1.tgz')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airgap_inputs import CERT_MANAGER_CHART, CHARTS_DIR, OLD_RANCHER_CHART, RANCHER_CHART, Chart
from k3s_standin.helm import archive

RANCHER_VALUES: dict[str, Any] = {
    "hostname": "", "replicas": 3, "rancherImage": "rancher/rancher", "rancherImageTag": "",
    "bootstrapPassword": "", "tls": "ingress", "privateCA": False, "addLocal": "true",
    "ingress": {"enabled": True, "servicePort": 80, "ingressClassName": "", "extraAnnotations": {},
                "tls": {"source": "rancher", "secretName": "tls-rancher-ingress"}},
    "letsEncrypt": {"email": "", "environment": "production", "ingress": {"class": ""}},
    "startupProbe": {"failureThreshold": 12},
}
CERT_MANAGER_VALUES: dict[str, Any] = {
    "crds": {"enabled": False, "keep": True}, "installCRDs": False,
    "image": {"repository": "jetstack/cert-manager-controller", "tag": ""},
    "webhook": {"image": {"repository": "jetstack/cert-manager-webhook", "tag": ""}},
    "cainjector": {"image": {"repository": "jetstack/cert-manager-cainjector", "tag": ""}},
    "acmesolver": {"image": {"repository": "jetstack/cert-manager-acmesolver", "tag": ""}},
    "startupapicheck": {"image": {"repository": "jetstack/cert-manager-startupapicheck", "tag": ""}},
}
DESCRIPTIONS = {"rancher": "Install Rancher Server to manage Kubernetes clusters across providers.",
                "cert-manager": "A Helm chart for cert-manager"}


def chart_bytes(chart: Chart) -> bytes:
    metadata = {"apiVersion": "v2", "name": chart.name, "version": chart.version, "appVersion": chart.app_version,
                "kubeVersion": chart.kube_version, "description": DESCRIPTIONS[chart.name]}
    values = RANCHER_VALUES if chart.name == "rancher" else CERT_MANAGER_VALUES
    return archive.build(metadata, values)


def build_charts(directory: Path = CHARTS_DIR) -> dict[str, Path]:
    """Write each chart archive unless the file already holds exactly these bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    built = {}
    for chart in (RANCHER_CHART, OLD_RANCHER_CHART, CERT_MANAGER_CHART):
        target = directory / chart.file
        data = chart_bytes(chart)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        built[chart.file] = target
    return built
