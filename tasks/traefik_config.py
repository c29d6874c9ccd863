"""
k3s's packaged Traefik, configured the k3s way (k3s docs "Customizing Packaged Components with
HelmChartConfig"): with ``rancher.tls: external`` HAProxy ends TLS and forwards plain HTTP to
Traefik's ``web`` entry point with ``X-Forwarded-Proto: https``; Traefik keeps forwarded headers only
from addresses in ``ports.web.forwardedHeaders.trustedIPs`` (traefik docs "EntryPoints, Forwarded
Headers"), so the HAProxy hosts' ``node_ip`` go there. In the other modes the file is absent.

Example:

    traefik_config("external")
"""

from __future__ import annotations

import yaml
from pyinfra import inventory

from tasks import render
from tasks.helm_chart import manifest_absent, manifest_path, manifest_present

MANIFEST_PATH = manifest_path("traefik-config")


def trusted_ips() -> list[str]:
    return [f"{member.data.node_ip}/32" for member in inventory.get_group("haproxy", [])]


def render_manifest(trusted: list[str]) -> str:
    values = {"ports": {"web": {"forwardedHeaders": {"trustedIPs": trusted}}}}
    return render("traefik-config.yaml.j2", values_content=yaml.safe_dump(values, sort_keys=False).rstrip("\n"))


def traefik_config(tls: str | None) -> None:
    """Ensure Traefik trusts HAProxy's forwarded headers when TLS ends there, else no override."""
    if tls == "external":
        manifest_present(name="Traefik trusts HAProxy's forwarded headers", path=MANIFEST_PATH,
                         content=render_manifest(trusted_ips()))
    else:
        manifest_absent(name="No Traefik override", path=MANIFEST_PATH)
