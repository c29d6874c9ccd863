"""What the stand-in's k3s release ships, as a real k3s release does (k3s-io/k3s at tag v1.31.4+k3s1):
the system images its packaged components run (`scripts/airgap/image-list.txt`, the list behind the
release's `k3s-airgap-images-amd64.tar.zst`) and its packaged charts (`manifests/traefik.yaml`, the
archives k3s writes into `<data-dir>/server/static/charts`). The stand-in and the lab's image
builder both read them here, so an image the stand-in runs is one the lab's archive carries.

The release's version is the one the stand-in was built with (`k3s_standin.K3S_VERSION`); the lab
builds two, the current one and `PREVIOUS_K3S_VERSION`, the minor before it, to upgrade from.

Example:
    HELM_JOB_IMAGE in SYSTEM_IMAGES   # True
    version_text()   # "k3s version v1.31.4+k3s1 (standin)\ngo version go1.22.9"
"""

from k3s_standin import DEFAULT_K3S_VERSION, K3S_VERSION, KUBE_VERSION

__all__ = ["DEFAULT_K3S_VERSION", "K3S_VERSION", "KUBE_VERSION"]

# The newest patch of the minor before DEFAULT_K3S_VERSION, released with it (k3s-io/k3s tags).
PREVIOUS_K3S_VERSION = "v1.30.8+k3s1"
# Both releases are built with this Go (k3s-io/k3s Dockerfile.dapper of each tag).
GO_VERSION = "go1.22.9"
# Where a real build has its commit's first 8 hex digits (pkg/version.GitCommit).
GIT_COMMIT = "standin"


def version_text() -> str:
    """What `k3s --version` prints (k3s-io/k3s pkg/cli/cmds/root.go: `%s version %s (%s)`, then
    `go version %s` with runtime.Version())."""
    return f"k3s version {K3S_VERSION} ({GIT_COMMIT})\ngo version {GO_VERSION}"

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
