"""
k3s's packaged Traefik, configured the k3s way (k3s docs "Customizing Packaged Components with
HelmChartConfig"): with ``rancher.tls: external`` HAProxy ends TLS and forwards plain HTTP to
Traefik's ``web`` entry point with ``X-Forwarded-Proto: https``; Traefik keeps forwarded headers only
from addresses in ``ports.web.forwardedHeaders.trustedIPs`` (traefik docs "EntryPoints, Forwarded
Headers"). ServiceLB's klipper-lb masquerades what it forwards (k3s-io/klipper-lb ``entry``:
``iptables -t nat -I POSTROUTING -d $DEST_IP -j MASQUERADE``), so Traefik sees the svclb pod's
address, not HAProxy's: the pod network (``cluster-cidr``) is trusted besides the HAProxy hosts'
``node_ip``. A pod could then forge those headers; Rancher only reads ``X-Forwarded-Proto`` from them.
In the other modes the file is absent.

Example:

    traefik_config("external")
"""

from __future__ import annotations

import yaml
from pyinfra import inventory

from facts.names import manifest_path
from tasks import render
from tasks.helm_chart import manifest_absent, manifest_present
from tasks.settings import mapping

MANIFEST_PATH = manifest_path("traefik-config")


DEFAULT_CLUSTER_CIDR = "10.42.0.0/16"


def trusted_ips(cluster_cidr: str) -> list[str]:
    """The HAProxy hosts and the pod network ServiceLB forwards from (``cluster-cidr``, comma-separated)."""
    return [f"{member.data.node_ip}/32" for member in inventory.get_group("haproxy", [])] + cluster_cidr.split(",")


def render_manifest(trusted: list[str]) -> str:
    values = {"ports": {"web": {"forwardedHeaders": {"trustedIPs": trusted}}}}
    return render("traefik-config.yaml.j2", values_content=yaml.safe_dump(values, sort_keys=False).rstrip("\n"))


def traefik_config(tls: str | None) -> None:
    """Ensure Traefik trusts HAProxy's forwarded headers when TLS ends there, else no override."""
    if tls == "external":
        cluster_cidr = str(mapping("k3s_config").get("cluster-cidr") or DEFAULT_CLUSTER_CIDR)
        manifest_present(name="Traefik trusts HAProxy's forwarded headers", path=MANIFEST_PATH,
                         content=render_manifest(trusted_ips(cluster_cidr)))
    else:
        manifest_absent(name="No Traefik override", path=MANIFEST_PATH)
