"""What the stand-in's k3s release ships, as a real k3s release does (k3s-io/k3s at tag v1.31.4+k3s1):
the system images its packaged components run (`scripts/airgap/image-list.txt`, the list behind the
release's `k3s-airgap-images-amd64.tar.zst`) and its packaged charts (`manifests/traefik.yaml`, the
archives k3s writes into `<data-dir>/server/static/charts`). The stand-in and the lab's image
builder both read them here, so an image the stand-in runs is one the lab's archive carries.

Example:
    HELM_JOB_IMAGE in SYSTEM_IMAGES   # True
"""

from k3s_standin import K3S_VERSION, KUBE_VERSION

__all__ = ["K3S_VERSION", "KUBE_VERSION"]

HELM_JOB_IMAGE = "rancher/klipper-helm:v0.9.3-build20241008"
SERVICELB_IMAGE = "rancher/klipper-lb:v0.4.9"
PAUSE_IMAGE = "rancher/mirrored-pause:3.6"
COREDNS_IMAGE = "rancher/mirrored-coredns-coredns:1.12.0"
LOCAL_PATH_IMAGE = "rancher/local-path-provisioner:v0.0.30"
METRICS_SERVER_IMAGE = "rancher/mirrored-metrics-server:v0.7.2"
TRAEFIK_IMAGE = "rancher/mirrored-library-traefik:2.11.10"
BUSYBOX_IMAGE = "rancher/mirrored-library-busybox:1.36.1"

# As image-list.txt writes them: fully qualified references.
SYSTEM_IMAGES = tuple(f"docker.io/{image}" for image in (
    HELM_JOB_IMAGE, SERVICELB_IMAGE, LOCAL_PATH_IMAGE, COREDNS_IMAGE, BUSYBOX_IMAGE, TRAEFIK_IMAGE,
    METRICS_SERVER_IMAGE, PAUSE_IMAGE,
))

TRAEFIK_CHART_VERSION = "27.0.201+up27.0.2"
TRAEFIK_CHART = f"traefik-{TRAEFIK_CHART_VERSION}.tgz"
TRAEFIK_CRD_CHART = f"traefik-crd-{TRAEFIK_CHART_VERSION}.tgz"
