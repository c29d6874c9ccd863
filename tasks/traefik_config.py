"""
k3s's packaged Traefik, configured the k3s way (k3s docs "Customizing Packaged Components with
HelmChartConfig"): one manifest, whatever the TLS mode.

* Kept serving while nodes are drained: ``traefik.replicas`` pods (the chart's
  ``deployment.replicas``; k3s ships one), spread over nodes by preferred pod anti-affinity on
  ``kubernetes.io/hostname`` (the chart's ``affinity``; preferred, so a one-node cluster still runs
  them all), and a PodDisruptionBudget keeping ``traefik.min_available`` of them through evictions
  (the chart's ``podDisruptionBudget``; traefik/traefik-helm-chart v27.0.2
  templates/poddisruptionbudget.yaml). The budget is left out when it would allow no eviction at all
  (``min_available`` 0 or not below ``replicas``): ``kubectl drain`` would then wait out its timeout
  on every node that runs Traefik.
* A Traefik pod being stopped keeps accepting requests for ``traefik.accept_grace_seconds`` on
  ``web`` and ``websecure`` (Traefik's ``--entryPoints.<name>.transport.lifeCycle.requestAcceptGraceTimeout``
  through the chart's ``additionalArguments``, which every chart version passes on). Without it
  Traefik closes its listeners on SIGTERM (traefik/traefik v2.11 pkg/server/server_entrypoint_tcp.go
  ``TCPEntryPoint.Shutdown``) while kube-proxy on every node still sends new connections to it until
  the EndpointSlice update reaches it, so requests fail during every drain. It must stay below the
  pod's grace period (chart ``deployment.terminationGracePeriodSeconds``, 60) less Traefik's own
  ``graceTimeOut`` (10s) for requests in flight, or the kubelet kills Traefik before they finish.
* With ``rancher.tls: external`` HAProxy ends TLS and forwards plain HTTP to Traefik's ``web`` entry
  point with ``X-Forwarded-Proto: https``; Traefik keeps forwarded headers only from addresses in
  ``ports.web.forwardedHeaders.trustedIPs`` (traefik docs "EntryPoints, Forwarded Headers").
  ServiceLB's klipper-lb masquerades what it forwards (k3s-io/klipper-lb ``entry``: ``iptables -t
  nat -I POSTROUTING -d $DEST_IP -j MASQUERADE``), so Traefik sees the svclb pod's address, not
  HAProxy's: the pod network (``cluster-cidr``) is trusted besides the HAProxy hosts' ``node_ip``.
  A pod could then forge those headers; Rancher only reads ``X-Forwarded-Proto`` from them.

Example:

    traefik_config("external")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pyinfra import host, inventory
from pyinfra.api.exceptions import PyinfraError

from facts.names import manifest_path
from tasks import render
from tasks.helm_chart import manifest_present
from tasks.settings import InvalidField, data_section, fields_of, mapping

MANIFEST_PATH = manifest_path("traefik-config")
FIELDS = fields_of("traefik")
DEFAULT_CLUSTER_CIDR = "10.42.0.0/16"
# The chart's selector labels (templates/_helpers.tpl traefik.labelselector) of k3s's release
# `traefik` in kube-system.
# The entry points HAProxy reaches through ServiceLB (the chart's ports `web` and `websecure`).
ENTRY_POINTS = ("web", "websecure")
POD_LABELS = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-kube-system"}


@dataclass(frozen=True)
class TraefikValues:
    replicas: int
    min_available: int
    accept_grace_seconds: int = FIELDS["accept_grace_seconds"].default

    @property
    def budget(self) -> bool:
        """Whether a PodDisruptionBudget is written: only one that lets a drain evict a pod."""
        return 0 < self.min_available < self.replicas


def whole_field(settings: Mapping[str, Any], name: str) -> int:
    found = settings.get(name, FIELDS[name].default)
    low, high = FIELDS[name].minimum, FIELDS[name].maximum
    if isinstance(found, bool) or not isinstance(found, int) or found < low or (high is not None and found > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise InvalidField(f"traefik.{name}", f"must be an integer {bounds}, got {found!r}")
    return found


def traefik_values(data: Mapping[str, Any]) -> TraefikValues:
    """Validate host data ``traefik`` (absent: every default); raises ``InvalidField`` naming the field.

    Example:
        traefik_values({"traefik": {"replicas": 3}}) == TraefikValues(replicas=3, min_available=1)
    """
    settings = data_section(data, "traefik", FIELDS)
    return TraefikValues(replicas=whole_field(settings, "replicas"),
                         min_available=whole_field(settings, "min_available"),
                         accept_grace_seconds=whole_field(settings, "accept_grace_seconds"))


def trusted_ips(cluster_cidr: str) -> list[str]:
    """The HAProxy hosts and the pod network ServiceLB forwards from (``cluster-cidr``, comma-separated)."""
    return [f"{member.data.node_ip}/32" for member in inventory.get_group("haproxy", [])] + cluster_cidr.split(",")


def chart_values(values: TraefikValues, trusted: list[str] | None) -> dict[str, Any]:
    """The Traefik chart's values (``valuesContent``); ``trusted``: the forwarded headers' sources, if any."""
    term = {"labelSelector": {"matchLabels": dict(POD_LABELS)}, "topologyKey": "kubernetes.io/hostname"}
    chart: dict[str, Any] = {
        "deployment": {"replicas": values.replicas},
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": term}]}},
    }
    if values.budget:
        chart["podDisruptionBudget"] = {"enabled": True, "minAvailable": values.min_available}
    if values.accept_grace_seconds:
        chart["additionalArguments"] = [
            f"--entryPoints.{name}.transport.lifeCycle.requestAcceptGraceTimeout={values.accept_grace_seconds}s"
            for name in ENTRY_POINTS]
    if trusted:
        chart["ports"] = {"web": {"forwardedHeaders": {"trustedIPs": trusted}}}
    return chart


def render_manifest(values: TraefikValues, trusted: list[str] | None) -> str:
    content = yaml.safe_dump(chart_values(values, trusted), sort_keys=False).rstrip("\n")
    return render("traefik-config.yaml.j2", values_content=content)


def traefik_config(tls: str | None) -> None:
    """Ensure Traefik runs spread, budgeted and draining when stopped, trusting HAProxy's forwarded headers if TLS ends there."""
    try:
        values = traefik_values(host.data.dict())
    except InvalidField as error:
        raise PyinfraError(f"traefik: host {host.name}: {error}") from None
    trusted = None
    if tls == "external":
        trusted = trusted_ips(str(mapping("k3s_config").get("cluster-cidr") or DEFAULT_CLUSTER_CIDR))
    manifest_present(name="Traefik HelmChartConfig", path=MANIFEST_PATH, content=render_manifest(values, trusted))
