"""cert-manager for Rancher's default TLS mode: when it is wanted, its values and images, its manifest,
and ready only once its webhook admits an Issuer."""

from __future__ import annotations

import pytest
import yaml

from tasks.cert_manager import CertManagerStatus, cert_manager_values, cert_manager_wanted, render_manifest
from tasks.settings import InvalidField
from tests.unit.chart_archives import chart_archive
from tests.unit.kube_objects import chart_output, deployment, helm_job, reads_of

DEPLOYMENTS = ["cert-manager", "cert-manager-webhook", "cert-manager-cainjector"]
ADMITTED = "issuer.cert-manager.io/k3s-lxc-resilience-webhook-check created (server dry run)"
WEBHOOK_DOWN = ('Error from server (InternalError): Internal error occurred: failed '
                'calling webhook "webhook.cert-manager.io": failed to call webhook: Post "https://cert-manager-webhook.'
                'cert-manager.svc:443/validate?timeout=30s": dial tcp 10.43.12.34:443: connect: connection refused')


@pytest.mark.parametrize("data,wanted", [
    ({"rancher": {}}, True),                                   # rancher.tls defaults to rancher
    ({"rancher": {"tls": "rancher"}}, True),
    ({"rancher": {"tls": "secret"}}, False),
    ({"rancher": {"tls": "external"}}, False),
    ({"rancher": {"tls": "secret"}, "cert_manager": {}}, True),
    ({"cert_manager": {"wait_seconds": 60}}, True),
    ({}, False),
])
def test_cert_manager_is_wanted_for_rancher_tls_or_when_asked_for(data, wanted):
    assert cert_manager_wanted(data) is wanted


def test_defaults_come_from_the_jetstack_repo():
    values = cert_manager_values({})
    assert (values.chart.spec(), values.wait_seconds, values.images) == (
        {"chart": "cert-manager", "repo": "https://charts.jetstack.io"}, 300.0, [])


@pytest.mark.parametrize("settings,field", [
    ({"wait_seconds": 0}, "cert_manager.wait_seconds"),
    ({"wait_seconds": True}, "cert_manager.wait_seconds"),
    ({"version": "v1.16.2"}, "cert_manager.version"),
    ({"repo": "charts.jetstack.io"}, "cert_manager.repo"),
    ({"chart_version": 1.16}, "cert_manager.chart_version"),
])
def test_bad_values_name_their_field(settings, field):
    with pytest.raises(InvalidField) as error:
        cert_manager_values({"cert_manager": settings})
    assert error.value.field == field


def test_cert_manager_must_be_a_mapping():
    with pytest.raises(InvalidField) as error:
        cert_manager_values({"cert_manager": ["v1.16.2"]})
    assert (error.value.field, error.value.problem) == ("cert_manager", "must be a mapping, got list")


def test_images_of_a_local_chart_default_to_its_app_version(tmp_path):
    chart = chart_archive(tmp_path, "cert-manager", "v1.16.2", app_version="v1.16.2")
    assert cert_manager_values({"cert_manager": {"chart_file": str(chart)}}).images == [
        "jetstack/cert-manager-controller:v1.16.2", "jetstack/cert-manager-webhook:v1.16.2",
        "jetstack/cert-manager-cainjector:v1.16.2", "jetstack/cert-manager-startupapicheck:v1.16.2"]


def test_images_follow_the_charts_values_yaml(tmp_path):
    values = {"image": {"repository": "mirror.example.net/jetstack/cert-manager-controller"},
              "webhook": {"image": {"repository": "mirror.example.net/jetstack/cert-manager-webhook", "tag": "v1.16.2-p1"}},
              "cainjector": {"replicaCount": 1}}
    chart = chart_archive(tmp_path, "cert-manager", "v1.16.2", app_version="v1.16.2", values=values)
    assert cert_manager_values({"cert_manager": {"chart_file": str(chart)}}).images == [
        "mirror.example.net/jetstack/cert-manager-controller:v1.16.2",
        "mirror.example.net/jetstack/cert-manager-webhook:v1.16.2-p1",
        "jetstack/cert-manager-cainjector:v1.16.2", "jetstack/cert-manager-startupapicheck:v1.16.2"]


def test_a_chart_without_app_version_names_no_image(tmp_path):
    chart = chart_archive(tmp_path, "cert-manager", "v1.16.2")
    assert cert_manager_values({"cert_manager": {"chart_file": str(chart)}}).images == []


def test_a_rancher_chart_is_not_taken_for_cert_manager(tmp_path):
    chart = chart_archive(tmp_path, "rancher", "2.10.1")
    with pytest.raises(InvalidField) as error:
        cert_manager_values({"cert_manager": {"chart_file": str(chart)}})
    assert error.value.problem == "rancher-2.10.1.tgz is chart 'rancher', not 'cert-manager'"


def test_manifest_installs_the_local_chart_with_its_crds_into_cert_manager(tmp_path):
    chart = chart_archive(tmp_path, "cert-manager", "v1.16.2")
    document = yaml.safe_load(render_manifest(cert_manager_values({"cert_manager": {"chart_file": str(chart)}})))
    spec = document["spec"]
    assert (document["kind"], document["metadata"], spec["chart"], spec["targetNamespace"], spec["createNamespace"],
            yaml.safe_load(spec["valuesContent"])) == (
        "HelmChart", {"name": "cert-manager", "namespace": "kube-system"},
        "https://%{KUBERNETES_API}%/static/charts/cert-manager-v1.16.2.tgz", "cert-manager", True,
        {"crds": {"enabled": True, "keep": True}})


def status(dryrun: str, available: bool = True) -> dict:
    lines = chart_output("cert-manager", extra={"dryrun": dryrun},
                         workload=[deployment(name, available=available) for name in DEPLOYMENTS],
                         helmchart={"jobName": "helm-install-cert-manager"}, job=[helm_job("cert-manager", complete=True)])
    return CertManagerStatus().process(lines)


def test_ready_when_the_webhook_admits_a_dry_run_issuer():
    result = status(ADMITTED)
    assert (result["webhook"], result["problem"]) == (True, None)


def test_not_ready_while_the_webhook_refuses_saying_why():
    result = status(WEBHOOK_DOWN)
    assert (result["webhook"], result["problem"]) == (False, f"cert-manager's webhook does not admit an Issuer yet: "
                                                             f"{WEBHOOK_DOWN}")


def test_the_deployments_come_before_the_webhook():
    assert status(WEBHOOK_DOWN, available=False)["problem"] == (
        "Deployment not Available or not rolled out: cert-manager 0/1 ready, cert-manager-webhook 0/1 ready, "
        "cert-manager-cainjector 0/1 ready")


def test_the_command_stats_cert_managers_manifest():
    assert reads_of(CertManagerStatus().command())[0] == {
        "section": "manifest", "read": "mtime", "path": "/var/lib/rancher/k3s/server/manifests/cert-manager.yaml"}


def test_the_command_asks_for_a_server_side_dry_run_issuer_last():
    dry_run = reads_of(CertManagerStatus().command())[-1]
    assert (dry_run["section"], dry_run["read"], dry_run["body"]["apiVersion"], dry_run["body"]["kind"]) == (
        "dryrun", "dry_run", "cert-manager.io/v1", "Issuer")
