"""
cert-manager for Rancher's default TLS mode (``rancher.tls: rancher``): the Rancher chart then
renders a ``cert-manager.io/v1`` Issuer (rancher/rancher chart/templates/issuer-rancher.yaml), so
cert-manager and its CRDs must be installed first and its webhook must answer, or the Rancher
install fails (``no matches for kind "Issuer"``, or the webhook's ``failed calling webhook``).

Installed like Rancher (``tasks.helm_chart``): a HelmChart in kube-system with ``crds.enabled`` (the
chart's CRDs, cert-manager >= 1.15), from ``cert_manager.repo`` or, air-gapped, the local
``cert_manager.chart_file``. Ready means its three Deployments are Available and a server-side
dry-run create of an Issuer is admitted, which goes through the webhook as cert-manager's own
``cmctl check api`` does.

Example:

    if cert_manager_wanted():
        cert_manager()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pyinfra import host, inventory
from pyinfra.api import FactBase
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host

from facts import chart_status as chart
from facts import cluster_reads, kube_reads
from facts.names import KUBE_API, manifest_path
from tasks import render
from tasks.chart_source import ChartSource, chart_source, check_fits
from tasks.helm_chart import chart_archive_present, chart_ready, manifest_absent, manifest_present
from tasks.settings import InvalidField, data_section, fields_of, value

FIELDS = fields_of("cert_manager")
NAMESPACE = "cert-manager"
DEPLOYMENTS = ["cert-manager", "cert-manager-webhook", "cert-manager-cainjector"]
# cert-manager's chart values naming each image (its values.yaml); the tag defaults to appVersion.
IMAGE_VALUES = ("image", "webhook.image", "cainjector.image", "startupapicheck.image")
DEFAULT_REPOSITORIES = {key: f"jetstack/cert-manager-{part}" for key, part in
                        zip(IMAGE_VALUES, ("controller", "webhook", "cainjector", "startupapicheck"), strict=True)}
PROBE_ISSUER = "k3s-lxc-resilience-webhook-check"
# A server-side dry-run create goes through admission and so through cert-manager's webhook.
DRY_RUN = {"section": "dryrun", "read": "dry_run",
           "body": {"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
                    "metadata": {"name": PROBE_ISSUER, "namespace": NAMESPACE}, "spec": {"selfSigned": {}}}}


@dataclass(frozen=True)
class CertManagerValues:
    chart: ChartSource
    wait_seconds: float

    @property
    def images(self) -> list[str]:
        """The images the chart runs, when its archive says (a repository chart: unknown)."""
        tag = self.chart.meta.get("appVersion")
        if not tag:
            return []
        found = []
        for key in IMAGE_VALUES:
            settings: Any = self.chart.values
            for part in key.split("."):
                settings = settings.get(part) or {} if isinstance(settings, Mapping) else {}
            repository = settings.get("repository") or DEFAULT_REPOSITORIES[key]
            found.append(f"{repository}:{settings.get('tag') or tag}")
        return found


def cert_manager_values(data: Mapping[str, Any]) -> CertManagerValues:
    """Validate host data ``cert_manager`` (absent: every default); raises InvalidField."""
    settings = data_section(data, "cert_manager", FIELDS)
    seconds = settings.get("wait_seconds", FIELDS["wait_seconds"].default)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise InvalidField("cert_manager.wait_seconds", f"must be a number of seconds > 0, got {seconds!r}")
    return CertManagerValues(chart_source(settings, "cert_manager", FIELDS), float(seconds))


def cert_manager_wanted(data: Mapping[str, Any]) -> bool:
    """cert-manager is installed for ``rancher.tls: rancher`` or when ``cert_manager`` is set."""
    rancher = data.get("rancher")
    tls = rancher.get("tls", fields_of("rancher")["tls"].default) if isinstance(rancher, Mapping) else None
    return data.get("cert_manager") is not None or (rancher is not None and tls == "rancher")


def render_manifest(values: CertManagerValues) -> str:
    chart_values = {"crds": {"enabled": True, "keep": True}}
    return render("cert-manager.yaml.j2", chart_spec=values.chart.spec(), namespace=NAMESPACE,
                  values_content=yaml.safe_dump(chart_values, sort_keys=False).rstrip("\n"))


def status(sections: dict[str, str]) -> dict[str, Any]:
    """The chart's status, and whether the webhook admitted the dry-run Issuer."""
    found = chart.chart_status(sections, "cert-manager", DEPLOYMENTS)
    answer = chart.last_error(sections.get("dryrun", ""))
    found["webhook"] = answer.endswith("(server dry run)")
    if found["problem"] is None and not found["webhook"]:
        found["problem"] = f"cert-manager's webhook does not admit an Issuer yet: {answer}"
    return found


def status_reads() -> list[dict[str, Any]]:
    """Every read of the ``CertManagerStatus`` command: the chart's sections, then the dry run."""
    return [*chart.chart_reads("cert-manager", NAMESPACE, manifest_path("cert-manager")), DRY_RUN]


class CertManagerStatus(FactBase[dict[str, Any]]):
    """
    Returns cert-manager's install as the control node sees it (``facts.chart_status``), plus
    ``webhook``: whether a server-side dry-run Issuer passed its webhook.

    Example:

    .. code:: python

        {"problem": "helm-install-cert-manager pod helm-install-cert-manager-x2 ImagePullBackOff on ...",
         "webhook": False, ...}
    """

    def requires_command(self) -> str:
        return "k3s"

    def command(self) -> str:
        return kube_reads.command(KUBE_API, status_reads())

    def process(self, output: list[str]) -> dict[str, Any]:
        return status(chart.section_texts(output))


def _problem(target: Host) -> str | None:
    sections = cluster_reads.taken(target, NAMESPACE)
    return (status(sections) if sections is not None else target.get_fact(CertManagerStatus))["problem"]


def cert_manager() -> None:
    """Ensure cert-manager is installed, or its manifest removed when nothing needs it."""
    path = manifest_path("cert-manager")
    if not cert_manager_wanted(host.data.dict()):
        manifest_absent(name="cert-manager manifest absent", path=path)
        return
    try:
        values = cert_manager_values(host.data.dict())
        check_fits(values.chart, "cert_manager", value("k3s_version"))
    except InvalidField as error:
        raise PyinfraError(f"cert-manager: host {host.name}: {error}") from None
    chart_archive_present(name="cert-manager chart archive", source=values.chart)
    manifest_present(name="cert-manager HelmChart manifest", path=path, content=render_manifest(values))
    # Every server applies the same manifest to one cluster: one of them waits for it.
    if host.name == inventory.get_group("k3s_control")[0].name:
        cluster_reads.note(NAMESPACE, status_reads())
        chart_ready(name="cert-manager's webhook answers", problem=_problem, what="cert-manager: not ready",
                    timeout=values.wait_seconds)

