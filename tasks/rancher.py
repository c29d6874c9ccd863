"""
Rancher installed the k3s way (``tasks.helm_chart``): cert-manager first when the TLS mode needs it
(``tasks.cert_manager``), the chart archive in ``static/charts`` when air-gapped, the HelmChart
manifest, the manifests of Rancher's PodDisruptionBudget and Traefik retry middleware
(``tasks.rancher_values``), then a wait until Rancher answers ``/ping`` through Traefik.

Opt-in: with host data ``rancher`` (a mapping, fields in ``tasks/rancher_values.py``) the
manifest is written; without it a manifest left from before is removed with its objects.
Values are validated before anything is written: a bad one fails the run with
``rancher: host <host>: field <field>: <reason>`` and the live manifest stays. So is the chart's
``kubeVersion`` against ``k3s_version``, when the chart is a local archive.
The manifest holds the bootstrap password and TLS key: it is written 0600 and never shown.
"""

from __future__ import annotations

import hashlib

from pyinfra import host, inventory
from pyinfra.api import StringCommand, deploy, operation
from pyinfra.api.exceptions import OperationError, PyinfraError
from pyinfra.api.host import Host

from facts import cluster_reads
from facts.kube_object import KubeObjectExists, answered, exists_reads
from facts.names import manifest_path
from facts.rancher import RancherStatus, rancher_reads, rancher_status
from facts.rancher_tls import CA_SECRET, INGRESS_SECRET, READS, RancherTlsObjects, tls_objects
from facts.rancher_tls import NAMESPACE as TLS_NAMESPACE
from tasks.cert_manager import cert_manager, cert_manager_values, cert_manager_wanted
from tasks.chart_source import check_fits
from tasks.helm_chart import chart_archive_present, chart_ready, manifest_absent, manifest_present
from tasks.rancher_values import (
    rancher_values,
    render_budget_manifest,
    render_manifest,
    render_retry_manifest,
    render_tls_manifest,
)
from tasks.settings import InvalidField, value
from tasks.traefik_config import traefik_config

MANIFEST_PATH = manifest_path("rancher")
TLS_MANIFEST_PATH = manifest_path("rancher-tls")
BUDGET_MANIFEST_PATH = manifest_path("rancher-pdb")
RETRY_MANIFEST_PATH = manifest_path("rancher-retry")
# The LoadBalancer earlier versions of this deploy added beside the chart: on real k3s it asks for
# 443, which Traefik's own ServiceLB pods hold, so its pods stay Pending for ever.
LEGACY_SERVICE = ("cattle-system", "rancher-lb")
LEGACY_PATH = f"/api/v1/namespaces/{LEGACY_SERVICE[0]}/services/{LEGACY_SERVICE[1]}"
# The parts of the waiting control node's one cluster read (facts.cluster_reads).
LEGACY_PART, STATUS_PART, TLS_PART = "rancher-lb", "rancher", "rancher-tls"


@operation()
def legacy_service_absent():
    """
    Delete the ``rancher-lb`` LoadBalancer an earlier version of this deploy created (k3s does not
    prune what a rewritten manifest no longer holds).

    Example:

    .. code:: python

        legacy_service_absent(name="No rancher-lb LoadBalancer beside Traefik")
    """
    namespace, name = LEGACY_SERVICE
    sections = cluster_reads.taken(host, LEGACY_PART)
    if not (answered(sections.get("object", "")) if sections is not None else host.get_fact(KubeObjectExists, path=LEGACY_PATH)):
        host.noop(f"no Service {namespace}/{name}")
        return
    yield StringCommand("k3s", "kubectl", "-n", namespace, "delete", "service", name, "--ignore-not-found")


@operation()
def tls_objects_current(tls: str, cert: str | None, private_ca: bool):
    """
    Bring what serves Rancher's certificate in line with ``rancher.tls`` after a mode change: k3s
    applies a manifest only when the file changes and never deletes what it no longer holds, and
    cert-manager keeps rewriting the Secret of a Certificate its ingress-shim made.

    * not ``rancher``: ingress-shim's Certificate ``tls-rancher-ingress`` is deleted;
    * ``rancher``: a ``tls-rancher-ingress`` cert-manager did not issue (the operator's, from mode
      ``secret``) is deleted, so cert-manager issues it;
    * ``tls-ca`` is deleted when no private CA is configured;
    * ``secret``: the manifest is applied again when the Secret does not hold the operator's certificate.

    Example:

    .. code:: python

        tls_objects_current(name="Rancher's certificate as rancher.tls says", tls="secret",
                            cert=material.cert, private_ca=True)
    """
    sections = cluster_reads.taken(host, TLS_PART)
    state = tls_objects(sections) if sections is not None else host.get_fact(RancherTlsObjects)
    if state["error"]:
        # what the objects are is unknown: deciding from "absent" could delete or apply wrongly
        raise OperationError(f"rancher: host {host.name}: {state['error']}")
    ingress = state["ingress_secret"]
    deletions = []
    if tls != "rancher" and state["certificate"]:
        deletions.append(("certificates.cert-manager.io", INGRESS_SECRET))
    if tls == "rancher" and ingress is not None and not ingress["issued"]:
        deletions.append(("secret", INGRESS_SECRET))
    if not private_ca and state["ca_secret"]:
        deletions.append(("secret", CA_SECRET))
    for kind, name in deletions:
        yield StringCommand("k3s", "kubectl", "-n", TLS_NAMESPACE, "delete", kind, name, "--ignore-not-found")
    held = ingress["sha256"] if ingress else None
    stale = tls == "secret" and cert is not None and held != hashlib.sha256(cert.encode()).hexdigest()
    if stale or (private_ca and not state["ca_secret"]) or (tls == "secret" and state["certificate"]):
        yield StringCommand("k3s", "kubectl", "apply", "-f", TLS_MANIFEST_PATH)
    elif not deletions:
        host.noop(f"Rancher's certificate objects match rancher.tls {tls}")


def chart_images() -> list[str]:
    """The images the Rancher and cert-manager charts run, as far as their archives say."""
    if value("rancher") is None:
        return []
    try:
        values = rancher_values(host.data.dict())
        extra = cert_manager_values(host.data.dict()).images if cert_manager_wanted(host.data.dict()) else []
    except InvalidField as error:
        raise PyinfraError(f"rancher: host {host.name}: {error}") from None
    return ([values.image] if values.image else []) + extra


def _ping_target(target: Host) -> tuple[str, str]:
    """The hostname and TLS mode ``/ping`` is sent with, from the host's data."""
    rancher = value("rancher", target) or {}
    return rancher.get("hostname") or value("rancher_hostname", target), rancher.get("tls", "rancher")


def _problem(target: Host) -> str | None:
    sections = cluster_reads.taken(target, STATUS_PART)
    if sections is not None:
        return rancher_status(sections)["problem"]
    hostname, tls = _ping_target(target)
    return target.get_fact(RancherStatus, hostname=hostname, tls=tls)["problem"]


@deploy("Rancher from a HelmChart manifest")
def rancher() -> None:
    """Ensure Rancher is installed (or removed) as host data ``rancher`` says."""
    if "k3s_control" not in host.groups:
        return
    if value("rancher") is None:
        manifest_absent(name="Rancher manifest absent", path=MANIFEST_PATH)
        manifest_absent(name="Rancher TLS manifest absent", path=TLS_MANIFEST_PATH)
        manifest_absent(name="Rancher PodDisruptionBudget absent", path=BUDGET_MANIFEST_PATH)
        manifest_absent(name="Rancher retry middleware absent", path=RETRY_MANIFEST_PATH)
        cert_manager()
        traefik_config(None)
        return

    try:
        values = rancher_values(host.data.dict())
        check_fits(values.chart, "rancher", value("k3s_version"))
    except InvalidField as error:
        raise PyinfraError(f"rancher: host {host.name}: {error}") from None

    cert_manager()
    traefik_config(values.tls)
    chart_archive_present(name="Rancher chart archive", source=values.chart)
    tls_manifest = render_tls_manifest(values)
    if tls_manifest is None:
        manifest_absent(name="No Rancher TLS manifest", path=TLS_MANIFEST_PATH)
    else:
        manifest_present(name="Rancher TLS manifest", path=TLS_MANIFEST_PATH, content=tls_manifest)
    # Before the chart whose Ingress names it (Traefik serves no router naming a missing middleware),
    # and removed only after the chart's Ingress no longer names it.
    retry_manifest = render_retry_manifest(values)
    if retry_manifest is not None:
        manifest_present(name="Rancher retry middleware", path=RETRY_MANIFEST_PATH, content=retry_manifest)
    manifest_present(name="Rancher HelmChart manifest", path=MANIFEST_PATH, content=render_manifest(values))
    if retry_manifest is None:
        manifest_absent(name="No Rancher retry middleware", path=RETRY_MANIFEST_PATH)
    budget_manifest = render_budget_manifest(values)
    if budget_manifest is None:
        manifest_absent(name="No Rancher PodDisruptionBudget", path=BUDGET_MANIFEST_PATH)
    else:
        manifest_present(name="Rancher PodDisruptionBudget", path=BUDGET_MANIFEST_PATH, content=budget_manifest)
    # Every server applies the same manifest to one cluster: one of them waits for it.
    if host.name == inventory.get_group("k3s_control")[0].name:
        cluster_reads.note(LEGACY_PART, exists_reads(LEGACY_PATH))
        cluster_reads.note(STATUS_PART, rancher_reads(*_ping_target(host)))
        cluster_reads.note(TLS_PART, READS)
        legacy_service_absent(name="No rancher-lb LoadBalancer beside Traefik")
        chart_ready(name="Rancher answers /ping", problem=_problem, what="rancher: not reachable",
                    timeout=values.wait_seconds)
        # After the new release rolled out: until then the old Ingress may still ask cert-manager.
        material = values.tls_material
        tls_objects_current(name="Rancher's certificate as rancher.tls says", tls=values.tls,
                            cert=material.cert if material else None,
                            private_ca=material is not None and material.ca is not None)
