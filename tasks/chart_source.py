"""Where a HelmChart's chart comes from, as k3s's helm-controller takes it: a repository (``repo`` +
``chart`` + ``version``), or, air-gapped, a local chart archive that the deploy puts in k3s's
``server/static/charts`` on every control node and names as
``https://%{KUBERNETES_API}%/static/charts/<file>`` (k3s docs "Air-Gap Install": k3s serves that
directory and the helm job fetches from it, as k3s's own Traefik chart is installed).

A local archive's ``Chart.yaml`` and ``values.yaml`` are read here (pure, no host), so preflight can
check its ``kubeVersion`` and the images it runs before anything is written.

Example:
    source = chart_source({"chart_file": "rancher-2.10.1.tgz"}, "rancher", FIELDS)
    source.spec()   # {"chart": "https://%{KUBERNETES_API}%/static/charts/rancher-2.10.1.tgz"}
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tasks.kube_version import ConstraintError, satisfies
from tasks.settings import InvalidField, Setting

STATIC_CHARTS_DIR = "/var/lib/rancher/k3s/server/static/charts"
STATIC_CHART_URL = "https://%{KUBERNETES_API}%/static/charts/"
_VERSION = re.compile(r"v?\d+\.\d+\.\d+\S*")


@dataclass(frozen=True)
class ChartSource:
    """A chart by name from ``repo`` (``version`` optional), or from the local ``file``."""

    name: str
    repo: str | None = None
    version: str | None = None
    file: Path | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, repr=False)
    values: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def static_path(self) -> str | None:
        """Where the archive goes on a control node, or None for a repository chart."""
        return f"{STATIC_CHARTS_DIR}/{self.file.name}" if self.file else None

    def spec(self) -> dict[str, str]:
        """The HelmChart ``spec`` fields that say where the chart is."""
        if self.file is not None:
            return {"chart": STATIC_CHART_URL + self.file.name}
        spec = {"chart": self.name, "repo": self.repo or ""}
        if self.version:
            spec["version"] = self.version
        return spec


def read_chart(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Chart.yaml, values.yaml) of a chart archive; raises ValueError saying what is wrong."""
    try:
        with tarfile.open(path, mode="r:*") as archive:
            members = {member.name: member for member in archive.getmembers() if member.isfile()}
            chart_yaml = next((name for name in members if re.fullmatch(r"[^/]+/Chart\.yaml", name)), None)
            if chart_yaml is None:
                raise ValueError("no <chart>/Chart.yaml in it")
            meta = yaml.safe_load(_read(archive, members[chart_yaml])) or {}
            values_name = chart_yaml.rsplit("/", 1)[0] + "/values.yaml"
            values = yaml.safe_load(_read(archive, members[values_name])) if values_name in members else {}
    # a truncated or corrupt gzip stream fails while members are read, past tarfile.open's checks
    except (OSError, EOFError, zlib.error, tarfile.TarError, yaml.YAMLError) as error:
        raise ValueError(f"not a chart archive: {error}") from None
    if not isinstance(meta, dict) or not meta.get("name") or not meta.get("version"):
        raise ValueError("its Chart.yaml has no name or version")
    return meta, values if isinstance(values, dict) else {}


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = archive.extractfile(member)
    return handle.read() if handle else b""


def chart_source(settings: Mapping[str, Any], parent: str, fields: Mapping[str, Setting]) -> ChartSource:
    """The chart of ``parent`` (``rancher``, ``cert_manager``) from its fields; raises InvalidField.

    The chart's name is the parent's with ``_`` as ``-`` (the name in the repository).
    """
    name = parent.replace("_", "-")
    version = settings.get("chart_version")
    if version is not None and (not isinstance(version, str) or not _VERSION.fullmatch(version)):
        raise InvalidField(f"{parent}.chart_version", f"must be a version string like '2.10.1', got {version!r}")
    chart_file = settings.get("chart_file")
    if chart_file is not None:
        if version is not None:
            raise InvalidField(f"{parent}.chart_file", "set chart_file or chart_version, not both")
        path = Path(str(chart_file)).expanduser()
        if path.suffix != ".tgz" or not path.is_file():
            raise InvalidField(f"{parent}.chart_file", f"not a chart .tgz file: {str(path)!r}")
        try:
            meta, values = read_chart(path)
        except ValueError as error:
            raise InvalidField(f"{parent}.chart_file", f"{path.name}: {error}") from None
        if meta["name"] != name:
            raise InvalidField(f"{parent}.chart_file", f"{path.name} is chart {meta['name']!r}, not {name!r}")
        return ChartSource(name, file=path, meta=meta, values=values)
    repo = settings.get("repo", fields["repo"].default)
    if not isinstance(repo, str) or not repo.startswith(("https://", "http://", "oci://")):
        raise InvalidField(f"{parent}.repo", f"must be a chart repository URL, got {repo!r}")
    return ChartSource(name, repo=repo, version=version)


def check_fits(source: ChartSource, parent: str, k3s_version: object) -> None:
    """Refuse a local chart whose ``kubeVersion`` excludes ``k3s_version``, as helm would refuse
    to install it, but before anything is written; raises InvalidField on ``<parent>.chart_file``."""
    constraint = source.meta.get("kubeVersion")
    if not constraint or not isinstance(k3s_version, str):
        return
    try:
        fits = satisfies(k3s_version, str(constraint))
    except (ConstraintError, ValueError) as error:
        raise InvalidField(f"{parent}.chart_file", f"kubeVersion {constraint!r}: {error}") from None
    if not fits:
        raise InvalidField(f"{parent}.chart_file", f"chart {source.meta['name']}-{source.meta['version']} requires "
                                                   f"kubeVersion {constraint}, which excludes k3s_version {k3s_version}")
