"""The charts the stand-in's helm can render, by chart name (one module per chart), and what a
template sees (`Release`: `.Release`, `.Chart`, `.Values`, `.Capabilities`). A chart whose name is not
here is rendered from its `templates/*.yaml` as plain manifests (no template directives), which is
what helm makes of a template without any.

Upstream: helm pkg/engine (the render context), the real charts named in each module.

Example:
    release = Release("rancher", "cattle-system", {"name": "rancher", "version": "2.10.1"}, values, "v1.31.4+k3s1")
    objects = render(release, {})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

Obj = dict[str, Any]


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    chart: Obj
    values: Obj
    kube_version: str

    @property
    def chart_label(self) -> str:
        """`{{ .Chart.Name }}-{{ .Chart.Version }}` with `+` replaced, as the charts' `chart:` labels do."""
        return f"{self.chart.get('name')}-{self.chart.get('version')}".replace("+", "_")

    @property
    def app_version(self) -> str:
        return str(self.chart.get("appVersion") or "")


class RenderError(Exception):
    """A template failed (helm: `execution error at (...)`)."""


def crd(group: str, kind: str, plural: str, namespaced: bool = True, version: str = "v1",
        labels: dict[str, str] | None = None) -> Obj:
    """An apiextensions.k8s.io/v1 CustomResourceDefinition serving one version, schema open."""
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}", "labels": dict(labels or {})},
            "spec": {"group": group, "scope": "Namespaced" if namespaced else "Cluster",
                     "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural,
                               "singular": kind.lower()},
                     "versions": [{"name": version, "served": True, "storage": True,
                                   "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def plain_templates(templates: dict[str, str]) -> list[Obj]:
    """Objects of templates that hold no template directives, in file order."""
    objects = []
    for name in sorted(templates):
        if name.endswith((".yaml", ".yml")) and "{{" not in templates[name]:
            objects += [doc for doc in yaml.safe_load_all(templates[name]) if doc]
    return objects


def renderers() -> dict[str, Callable[[Release], list[Obj]]]:
    from k3s_standin.helm.charts import cert_manager, rancher, traefik, traefik_crd

    return {"rancher": rancher.render, "cert-manager": cert_manager.render,
            "traefik": traefik.render, "traefik-crd": traefik_crd.render}


def render(release: Release, templates: dict[str, str]) -> list[Obj]:
    """The release's objects: the chart's renderer, or its plain templates."""
    renderer = renderers().get(str(release.chart.get("name")))
    return renderer(release) if renderer else plain_templates(templates)
