"""k3s stand-in for the lab: a k3s-compatible binary (API server, controllers, kubelet) in pure Python.

It exists because real k3s cannot be downloaded in the lab; the product's code, the real kubectl and
the official Kubernetes Python client talk to it exactly as they would to k3s.

Its version is chosen when the lab builds it (`lab/standin_build.py` writes `_build_version` into the
zipapp), as a k3s release's is fixed at build time by `-X .../pkg/version.Version=...` in k3s-io/k3s
scripts/build; run from source it is `DEFAULT_K3S_VERSION`. Kubernetes' own version is the k3s
version without its `+k3sN` build metadata (k3s-io/k3s scripts/version.sh: VERSION_K8S).

Example:
    K3S_VERSION, KUBE_VERSION   # ("v1.31.4+k3s1", "v1.31.4") from source
"""

import pkgutil

DEFAULT_K3S_VERSION = "v1.31.4+k3s1"
BUILD_VERSION_FILE = "_build_version"


def _built_version() -> str | None:
    """The version the build wrote into the package, None when running from source."""
    try:
        data = pkgutil.get_data(__name__, BUILD_VERSION_FILE)
    except OSError:
        return None
    return data.decode().strip() if data else None


K3S_VERSION = _built_version() or DEFAULT_K3S_VERSION
KUBE_VERSION = K3S_VERSION.split("+", 1)[0]
