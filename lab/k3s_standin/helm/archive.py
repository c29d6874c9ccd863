"""Chart archives as helm packages them (`helm package`, helm pkg/chart/loader/archive.go): a gzipped
tar whose members sit under `<name>/`, with `Chart.yaml` (apiVersion v2, name, version, appVersion,
kubeVersion), `values.yaml` and `templates/`. The stand-in renders a known chart by its name
(`charts/`); the archive's Chart.yaml and values.yaml are read as helm reads them.

Example:
    data = build({"apiVersion": "v2", "name": "demo", "version": "1.0.0"}, {"replicas": 1})
    load(data).metadata["name"]   # "demo"
"""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass, field
from typing import Any

import yaml

Obj = dict[str, Any]
TEMPLATES_NOTE = ("# The lab's k3s stand-in renders this chart by its name (lab/k3s_standin/helm/charts/);\n"
                  "# the real chart's templates are not needed for that.\n")


class ChartLoadError(Exception):
    """The archive is not a chart; the message is helm's."""


@dataclass
class Chart:
    metadata: Obj
    values: Obj
    templates: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")


def load(data: bytes) -> Chart:
    """A chart from archive bytes; raises ChartLoadError with helm's wording."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            files = {member.name.split("/", 1)[1]: (archive.extractfile(member) or io.BytesIO()).read().decode()
                     for member in archive.getmembers() if member.isfile() and "/" in member.name}
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as error:
        raise ChartLoadError("gzip: invalid header") from error
    if "Chart.yaml" not in files:
        raise ChartLoadError("Chart.yaml file is missing")
    try:
        metadata = yaml.safe_load(files["Chart.yaml"]) or {}
        values = yaml.safe_load(files.get("values.yaml", "")) or {}
    except yaml.YAMLError as error:
        raise ChartLoadError(f"cannot load Chart.yaml: {error}") from error
    if not metadata.get("name"):
        raise ChartLoadError("validation: chart.metadata.name is required")
    templates = {name: text for name, text in files.items() if name.startswith("templates/")}
    return Chart(metadata, values, templates)


def build(metadata: Obj, values: Obj, templates: dict[str, str] | None = None) -> bytes:
    """A reproducible archive (fixed mtimes): the same chart gives the same bytes, so a builder can
    tell a changed chart from an unchanged one."""
    name = metadata["name"]
    members = {"Chart.yaml": yaml.safe_dump(metadata, sort_keys=False),
               "values.yaml": yaml.safe_dump(values, sort_keys=False),
               **(templates if templates is not None else {"templates/NOTES.txt": TEMPLATES_NOTE})}
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed:
        with tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            for path, text in members.items():
                data = text.encode()
                info = tarfile.TarInfo(f"{name}/{path}")
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
