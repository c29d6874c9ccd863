"""What an air-gapped operator downloads besides k3s, as the lab builds it: the Rancher and
cert-manager charts (real `.tgz` archives with a real `Chart.yaml`) and the image archives of
every image those charts and k3s run. Versions and names are defined here once; `lab/charts.py`
and `lab/images.py` build the files into `lab/build/`, `lab/inventories.py` names them.

Upstream: rancher/rancher `chart/Chart.yaml` (2.10.x: kubeVersion `< 1.32.0-0`; 2.9.x: `< 1.31.0-0`),
cert-manager's chart (v1.16: kubeVersion `>= 1.22.0-0`), k3s docs "Air-Gap Install".

Example:
    BUILD_DIR / "charts" / RANCHER_CHART.file   # lab/build/charts/rancher-2.10.1.tgz
"""

from __future__ import annotations

from dataclasses import dataclass

from topology import BUILD_DIR


@dataclass(frozen=True)
class Chart:
    name: str
    version: str
    app_version: str
    kube_version: str

    @property
    def file(self) -> str:
        return f"{self.name}-{self.version}.tgz"


RANCHER_CHART = Chart("rancher", "2.10.1", "v2.10.1", "< 1.32.0-0")
# A chart whose kubeVersion excludes the lab's k3s (v1.31): the failure the product must name.
OLD_RANCHER_CHART = Chart("rancher", "2.9.3", "v2.9.3", "< 1.31.0-0")
CERT_MANAGER_CHART = Chart("cert-manager", "v1.16.2", "v1.16.2", ">= 1.22.0-0")

RANCHER_IMAGES = ("docker.io/rancher/rancher:v2.10.1",)
# The lab's cert-manager chart names its images without a registry host (the chart's
# `image.repository` values); they normalize to docker.io/ like any such reference.
CERT_MANAGER_IMAGES = tuple(f"docker.io/jetstack/cert-manager-{part}:v1.16.2"
                            for part in ("controller", "webhook", "cainjector", "startupapicheck"))

CHARTS_DIR = BUILD_DIR / "charts"
IMAGES_DIR = BUILD_DIR / "images"
# The archive names an operator would have: k3s's release asset, and one per extra product.
K3S_IMAGES_ARCHIVE = "k3s-airgap-images-amd64.tar.zst"
RANCHER_IMAGES_ARCHIVE = "rancher-images.tar"
CERT_MANAGER_IMAGES_ARCHIVE = "cert-manager-images.tar"
