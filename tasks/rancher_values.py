"""
Rancher's inventory values, validated, and the k3s manifest that installs Rancher from them.

Pure: nothing here touches a host, so a bad value fails the run before anything is written.

Data (host data, from the inventory's ``data:``): ``rancher`` (a mapping, whose presence turns the
Rancher install on) with the ``rancher.*`` fields, ``rancher_hostname`` and the secrets
``rancher_bootstrap_password`` and ``rancher_tls_*``: their types, defaults and meaning are in
``tasks.settings``.

HAProxy reaches Rancher through k3s's packaged Traefik, as Rancher documents for a layer-4 load
balancer: the chart's Ingress (host ``hostname``, TLS secret ``tls-rancher-ingress``) is what Traefik
serves on every node's 443, so no Service of our own is added.

Drains keep ``min_available`` Rancher pods: the chart spreads its replicas itself (preferred pod
anti-affinity on ``kubernetes.io/hostname``, rancher/rancher chart/templates/deployment.yaml) but has
no PodDisruptionBudget template in any released version (2.10.1 included), so the budget is a
manifest of its own beside the chart, selecting the chart's pod label ``app: rancher``. It is left
out when it would allow no eviction (``min_available`` 0 or not below ``replicas``, e.g. the default
single replica): ``kubectl drain`` would wait out its timeout on Rancher's node.

A drained Rancher pod exits at once on SIGTERM (the chart has no preStop hook and no value for one),
while Traefik still routes to it until its provider sees the Endpoints change: with more than one
replica, Rancher's Ingress gets Traefik's retry middleware (a Middleware manifest beside the chart,
named in the chart's ``ingress.extraAnnotations`` as ``traefik.ingress.kubernetes.io/router.middlewares``
wants it, traefik docs "Kubernetes Ingress" and "Retry"): a refused connection is retried through
Traefik's load balancer, on the other replica. With one replica there is nothing to retry on.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from tasks import render
from tasks.chart_source import ChartSource, chart_source
from tasks.rancher_tls import TlsMaterial, tls_material
from tasks.settings import InvalidField, data_section, fields_of

FIELDS = fields_of("rancher")
RETRY_MIDDLEWARE = "rancher-retry"
# Tries in all: the refusing pod, then another (round robin); a third in case the next is stopping too.
RETRY_ATTEMPTS = 3
MIDDLEWARES_ANNOTATION = "traefik.ingress.kubernetes.io/router.middlewares"
MIN_PASSWORD_LENGTH = 12
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class RancherValues:
    hostname: str
    replicas: int
    chart: ChartSource
    tls: str
    wait_seconds: float
    min_available: int = 1
    tls_material: TlsMaterial | None = None
    bootstrap_password: str | None = field(default=None, repr=False)

    @property
    def budget(self) -> bool:
        """Whether a PodDisruptionBudget is written: only one that lets a drain evict a pod."""
        return 0 < self.min_available < self.replicas

    @property
    def retried(self) -> bool:
        """Whether Rancher's Ingress retries on another replica (there is one)."""
        return self.replicas > 1

    @property
    def image(self) -> str | None:
        """The Rancher image the chart runs (``rancherImage``:``rancherImageTag``, tag default the
        chart's appVersion), or None when the chart is in a repository and its version unknown."""
        tag = self.chart.meta.get("appVersion") or (f"v{self.chart.version.lstrip('v')}" if self.chart.version else None)
        repository = self.chart.values.get("rancherImage") or "rancher/rancher"
        tag = self.chart.values.get("rancherImageTag") or tag
        return f"{repository}:{tag}" if tag else None


def is_dns_name(name: str) -> bool:
    """A lowercase RFC 1123 name with at least two labels, as Rancher's server URL needs."""
    labels = name.split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(_DNS_LABEL.match(label) for label in labels)


def _hostname(settings: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    routed = data.get("rancher_hostname")
    hostname = settings.get("hostname", routed)
    if not isinstance(hostname, str) or not is_dns_name(hostname):
        raise InvalidField("rancher.hostname", f"not a DNS name: {hostname!r}")
    if routed is not None and hostname != routed:
        raise InvalidField("rancher.hostname", f"{hostname!r} differs from rancher_hostname {routed!r}")
    return hostname


def _replicas(settings: Mapping[str, Any]) -> int:
    replicas = settings.get("replicas", FIELDS["replicas"].default)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise InvalidField("rancher.replicas", f"must be an integer >= 1, got {replicas!r}")
    return replicas


def _min_available(settings: Mapping[str, Any]) -> int:
    found = settings.get("min_available", FIELDS["min_available"].default)
    if isinstance(found, bool) or not isinstance(found, int) or found < 0:
        raise InvalidField("rancher.min_available", f"must be an integer >= 0, got {found!r}")
    return found


def _choice(settings: Mapping[str, Any], key: str) -> str:
    choices = FIELDS[key].choices
    value = settings.get(key, FIELDS[key].default)
    if value not in choices:
        raise InvalidField(f"rancher.{key}", f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _wait_seconds(settings: Mapping[str, Any]) -> float:
    seconds = settings.get("wait_seconds", FIELDS["wait_seconds"].default)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise InvalidField("rancher.wait_seconds", f"must be a number of seconds > 0, got {seconds!r}")
    return float(seconds)


def _password(data: Mapping[str, Any]) -> str | None:
    password = data.get("rancher_bootstrap_password")
    if password is not None and len(str(password)) < MIN_PASSWORD_LENGTH:
        # the value itself is a secret: only its length is wrong in the message
        raise InvalidField("rancher_bootstrap_password", f"shorter than {MIN_PASSWORD_LENGTH} characters")
    return None if password is None else str(password)


def rancher_values(data: Mapping[str, Any]) -> RancherValues:
    """Validate a host's data into ``RancherValues``; raises ``InvalidField`` naming the field."""
    settings = data_section(data, "rancher", FIELDS, required=True)
    hostname = _hostname(settings, data)
    tls = _choice(settings, "tls")
    return RancherValues(
        hostname=hostname,
        replicas=_replicas(settings),
        chart=chart_source(settings, "rancher", FIELDS),
        tls=tls,
        wait_seconds=_wait_seconds(settings),
        min_available=_min_available(settings),
        tls_material=tls_material(tls, hostname, data),
        bootstrap_password=_password(data),
    )


def chart_values(values: RancherValues) -> dict[str, Any]:
    """The Rancher chart's values (``valuesContent``)."""
    chart: dict[str, Any] = {"hostname": values.hostname, "replicas": values.replicas}
    if values.tls == "external":
        chart["tls"] = "external"
    else:
        chart["ingress"] = {"tls": {"source": values.tls}}
    if values.retried:
        chart.setdefault("ingress", {})["extraAnnotations"] = {
            MIDDLEWARES_ANNOTATION: f"cattle-system-{RETRY_MIDDLEWARE}@kubernetescrd"}
    if values.tls_material is not None and values.tls_material.ca is not None:
        chart["privateCA"] = True
    if values.bootstrap_password is not None:
        chart["bootstrapPassword"] = values.bootstrap_password
    return chart


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def render_manifest(values: RancherValues) -> str:
    """``tasks/templates/rancher.yaml.j2``: the HelmChart."""
    return render("rancher.yaml.j2", chart_spec=values.chart.spec(),
                  values_content=yaml.safe_dump(chart_values(values), sort_keys=False).rstrip("\n"))


def render_budget_manifest(values: RancherValues) -> str | None:
    """``tasks/templates/rancher-pdb.yaml.j2``: Rancher's PodDisruptionBudget; None without a budget."""
    return render("rancher-pdb.yaml.j2", min_available=values.min_available) if values.budget else None


def render_retry_manifest(values: RancherValues) -> str | None:
    """``tasks/templates/rancher-retry.yaml.j2``: the retry middleware of Rancher's Ingress; None
    with one replica."""
    return render("rancher-retry.yaml.j2", name=RETRY_MIDDLEWARE, attempts=RETRY_ATTEMPTS) if values.retried else None


def render_tls_manifest(values: RancherValues) -> str | None:
    """``tasks/templates/rancher-tls.yaml.j2``: ``tls-rancher-ingress`` (mode ``secret``) and ``tls-ca``
    (a private CA, modes ``secret`` and ``external``: Rancher's agents must trust the CA of the
    certificate HAProxy serves); None when the mode needs neither."""
    material = values.tls_material
    if material is None or (values.tls != "secret" and material.ca is None):
        return None
    served = values.tls == "secret"
    return render(
        "rancher-tls.yaml.j2",
        tls_secret={"tls.crt": _base64(material.cert), "tls.key": _base64(material.key)} if served else None,
        ca_secret={"cacerts.pem": _base64(material.ca)} if material.ca else None,
    )
