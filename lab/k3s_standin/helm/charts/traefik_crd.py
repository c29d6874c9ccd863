"""k3s's packaged `traefik-crd` chart (k3s-charts `traefik-crd` 27.0.201+up27.0.2, the CRDs of the
Traefik 27 chart's `crds/`): the traefik.io custom resources, registered and nothing else.

Example:
    [obj["metadata"]["name"] for obj in render(release)][0]   # "ingressroutes.traefik.io"
"""

from __future__ import annotations

from k3s_standin.helm.charts import Obj, Release, crd

KINDS = (("IngressRoute", "ingressroutes"), ("IngressRouteTCP", "ingressroutetcps"),
         ("IngressRouteUDP", "ingressrouteudps"), ("Middleware", "middlewares"),
         ("MiddlewareTCP", "middlewaretcps"), ("ServersTransport", "serverstransports"),
         ("ServersTransportTCP", "serverstransporttcps"), ("TLSOption", "tlsoptions"),
         ("TLSStore", "tlsstores"), ("TraefikService", "traefikservices"))


def render(release: Release) -> list[Obj]:
    return [crd("traefik.io", kind, plural, version="v1alpha1") for kind, plural in KINDS]
