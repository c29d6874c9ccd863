"""
Rancher's reachability from a k3s control node, and why it is not reachable, in one command.

Rancher is reached the way HAProxy reaches it: through k3s's packaged Traefik, which serves the
chart's Ingress. The command prints the sections of ``facts.chart_status`` for the ``rancher``
HelmChart, then the answer of ``/ping`` sent to the ClusterIP of ``kube-system/traefik`` with SNI and
Host ``hostname`` (HTTPS on 443; plain HTTP on 80 when TLS ends before Rancher, ``tls: external``),
asked in the same ``facts.kube_reads`` run: Proxmox's debian-12-standard template has no curl.
"""

from __future__ import annotations

from typing import Any

from pyinfra.api import FactBase

from facts import chart_status as chart
from facts import kube_reads
from facts.names import KUBE_API, manifest_path

NAMESPACE = "cattle-system"
TRAEFIK = "traefik"
DEPLOYMENTS = ["rancher"]
MANIFEST = manifest_path("rancher")


def ping_read(hostname: str, tls: str) -> dict[str, object]:
    """The ``ping`` section: ``/ping`` through Traefik's ClusterIP (``facts.kube_reads``)."""
    scheme, port = ("http", 80) if tls == "external" else ("https", 443)
    return {"section": "ping", "read": "ping", "service": f"/api/v1/namespaces/kube-system/services/{TRAEFIK}",
            "port": port, "scheme": scheme, "hostname": hostname,
            "absent": f"no Service kube-system/{TRAEFIK} (is traefik in k3s_config disable?)"}


def rancher_status(sections: dict[str, str]) -> dict[str, Any]:
    """Status of the Rancher install from the sections; ``problem`` is one line or None."""
    status = chart.chart_status(sections, "rancher", DEPLOYMENTS)
    status["ping"] = sections.get("ping", "")
    status["ready"] = status["problem"] is None and status["ping"] == "pong"
    if status["problem"] is None and not status["ready"]:
        status["problem"] = (f"/ping through Traefik (kube-system/{TRAEFIK}) to the Ingress of {NAMESPACE}/rancher "
                             f"answered {status['ping'] or 'nothing'!r}")
    return status


class RancherStatus(FactBase[dict[str, Any]]):
    """
    Returns Rancher's install and reachability as seen from a k3s control node: HelmChart, its job
    and the job pod's last log line, the ``cattle-system`` Deployments and pods, ServiceLB pods, node
    conditions/taints, and ``/ping`` through Traefik.

    Example:

    .. code:: python

        host.get_fact(RancherStatus, hostname="rancher.example.net", tls="rancher")
        {
            "ready": False,
            "problem": "pod rancher-5d9c-x2 ImagePullBackOff on k3s-worker-2: Back-off pulling image ...",
            "available": False, "ping": "", ...
        }
    """

    def requires_command(self, hostname: str, tls: str) -> str:
        return "k3s"

    def command(self, hostname: str, tls: str) -> str:
        return kube_reads.command(KUBE_API, [*chart.chart_reads("rancher", NAMESPACE, MANIFEST), ping_read(hostname, tls)])

    def process(self, output: list[str]) -> dict[str, Any]:
        return rancher_status(chart.section_texts(output))
