"""Chart archives for tests, laid out as ``helm package`` writes them: ``<name>/Chart.yaml``,
``<name>/values.yaml`` and a template, gzipped tar, named ``<name>-<version>.tgz``.

Example:
    path = chart_archive(tmp_path, "rancher", "2.10.1", kube_version="< 1.32.0-0", app_version="v2.10.1")
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import yaml


def chart_archive(directory: Path, name: str, version: str, kube_version: str | None = None,
                  app_version: str | None = None, values: dict[str, Any] | None = None) -> Path:
    """A chart archive in ``directory``."""
    meta: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version}
    if kube_version is not None:
        meta["kubeVersion"] = kube_version
    if app_version is not None:
        meta["appVersion"] = app_version
    files = {"Chart.yaml": yaml.safe_dump(meta), "values.yaml": yaml.safe_dump(values or {}),
             "templates/NOTES.txt": f"{name} installed\n"}
    path = directory / f"{name}-{version}.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for relative, text in files.items():
            add(archive, f"{name}/{relative}", text.encode())
    return path


def add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    archive.addfile(member, io.BytesIO(data))
