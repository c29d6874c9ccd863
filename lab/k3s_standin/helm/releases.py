"""Helm release records with the `secret` storage driver (HELM_DRIVER=secret, helm
pkg/storage/driver/secrets.go, util.go): Secret `sh.helm.release.v1.<name>.v<revision>` of type
`helm.sh/release.v1` in the release's namespace, labels name/owner=helm/status/version, key
`release` = base64(gzip(JSON release)). What a release installed (its `manifest`) is what upgrade
and uninstall compare against.

Example:
    latest(api, "rancher", "cattle-system")["info"]["status"]   # "deployed"
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from k3s_standin.client import Client, path

Obj = dict[str, Any]
SECRET_TYPE = "helm.sh/release.v1"


def secret_name(name: str, version: int) -> str:
    return f"sh.helm.release.v1.{name}.v{version}"


def encode(release: Obj) -> str:
    return base64.b64encode(gzip.compress(json.dumps(release).encode(), mtime=0)).decode()


def decode(text: str) -> Obj:
    return json.loads(gzip.decompress(base64.b64decode(text)))


def history(api: Client, name: str, namespace: str) -> list[Obj]:
    """Every revision of the release, oldest first."""
    secrets = api.list(path("v1", "secrets", namespace), labelSelector=f"owner=helm,name={name}")
    releases = [decode(base64.b64decode(item["data"]["release"]).decode()) for item in secrets
                if item.get("type") == SECRET_TYPE and (item.get("data") or {}).get("release")]
    return sorted(releases, key=lambda release: int(release["version"]))


def latest(api: Client, name: str, namespace: str) -> Obj | None:
    revisions = history(api, name, namespace)
    return revisions[-1] if revisions else None


def save(api: Client, release: Obj) -> None:
    """Create or replace the revision's Secret."""
    name, namespace, version = release["name"], release["namespace"], int(release["version"])
    body = {"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": secret_name(name, version), "namespace": namespace,
                         "labels": {"name": name, "owner": "helm", "status": release["info"]["status"],
                                    "version": str(version)}},
            "data": {"release": base64.b64encode(encode(release).encode()).decode()}}
    url = path("v1", "secrets", namespace, secret_name(name, version))
    if api.find(url) is None:
        api.create(path("v1", "secrets", namespace), body)
    else:
        api.update(url, body)


def forget(api: Client, name: str, namespace: str) -> None:
    """Remove every revision (the end of `helm uninstall`)."""
    for release in history(api, name, namespace):
        api.delete(path("v1", "secrets", namespace, secret_name(name, int(release["version"]))))
