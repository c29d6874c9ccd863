"""Validation of Rancher's inventory values and the manifests rendered from them (the HelmChart, and
its TLS Secrets apart), in each TLS mode."""

from __future__ import annotations

import base64

import pytest
import yaml

from tasks.chart_source import check_fits
from tasks.rancher_values import (
    rancher_values,
    render_budget_manifest,
    render_manifest,
    render_retry_manifest,
    render_tls_manifest,
)
from tasks.settings import InvalidField
from tests.unit.certificates import HOSTNAME, CertificateAuthority, Pem
from tests.unit.chart_archives import chart_archive

PASSWORD = "s3cret: with #yaml 'chars\""


def data(**rancher) -> dict:
    return {
        "rancher": {"hostname": HOSTNAME, **rancher},
        "rancher_hostname": HOSTNAME,
        "rancher_bootstrap_password": PASSWORD,
    }


def with_tls(pem: Pem, tls: str, ca: str | None = None, **rancher) -> dict:
    extra = {"rancher_tls_ca": ca} if ca else {}
    return {**data(tls=tls, **rancher), "rancher_tls_cert": pem.cert, "rancher_tls_key": pem.key, **extra}


def failing_field(host_data: dict) -> str:
    with pytest.raises(InvalidField) as error:
        rancher_values(host_data)
    return error.value.field


def manifest(host_data: dict) -> list[dict]:
    return list(yaml.safe_load_all(render_manifest(rancher_values(host_data))))


def tls_manifest(host_data: dict) -> list[dict] | None:
    rendered = render_tls_manifest(rancher_values(host_data))
    return None if rendered is None else [doc for doc in yaml.safe_load_all(rendered) if doc]


def kinds(documents: list[dict]) -> list[tuple[str, str]]:
    return [(doc["kind"], doc["metadata"]["name"]) for doc in documents]


def helmchart(documents: list[dict]) -> dict:
    return next(doc for doc in documents if doc["kind"] == "HelmChart")


def chart_values(documents: list[dict]) -> dict:
    return yaml.safe_load(helmchart(documents)["spec"]["valuesContent"])


def decoded(secret: dict, key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def test_defaults_one_replica_rancher_tls_from_the_stable_repo():
    values = rancher_values(data())
    assert (values.replicas, values.tls, values.chart.repo, values.wait_seconds, values.tls_material) == \
        (1, "rancher", "https://releases.rancher.com/server-charts/stable", 600.0, None)


@pytest.mark.parametrize("hostname", ["rancher", "Rancher.example.net", "-r.example.net", "a..b", "r_1.example.net", 7])
def test_hostname_must_be_a_dns_name(hostname):
    assert failing_field(data(hostname=hostname)) == "rancher.hostname"


def test_hostname_must_match_what_haproxy_routes():
    assert failing_field(data(hostname="other.example.net")) == "rancher.hostname"


def test_hostname_defaults_to_rancher_hostname():
    host_data = data()
    del host_data["rancher"]["hostname"]
    assert rancher_values(host_data).hostname == HOSTNAME


@pytest.mark.parametrize("replicas", [0, -1, "2", 1.5, True])
def test_replicas_must_be_an_integer_of_at_least_one(replicas):
    assert failing_field(data(replicas=replicas)) == "rancher.replicas"


# exposure: the LoadBalancer/NodePort choice of earlier versions, gone with the second LoadBalancer
@pytest.mark.parametrize("field,value", [("exposure", "loadbalancer"), ("tls", "letsencrypt"), ("repo", "ftp://x"),
                                         ("chart_version", 2.9), ("wait_seconds", 0), ("replica", 1)])
def test_bad_values_name_their_field(field, value):
    assert failing_field(data(**{field: value})) == f"rancher.{field}"


def test_short_password_fails_without_showing_it():
    with pytest.raises(InvalidField) as error:
        rancher_values({**data(), "rancher_bootstrap_password": "short-pw"})
    assert (error.value.field, "short-pw" in str(error.value)) == ("rancher_bootstrap_password", False)


def test_password_and_key_are_hidden_from_the_values_repr(leaf):
    shown = repr(rancher_values(with_tls(leaf, "secret")))
    assert (PASSWORD in shown, leaf.key.splitlines()[1] in shown) == (False, False)


def test_chart_file_and_chart_version_exclude_each_other(tmp_path):
    chart = chart_archive(tmp_path, "rancher", "2.10.1")
    assert failing_field(data(chart_file=str(chart), chart_version="2.10.1")) == "rancher.chart_file"


def test_missing_chart_file_fails(tmp_path):
    assert failing_field(data(chart_file=str(tmp_path / "absent.tgz"))) == "rancher.chart_file"


@pytest.mark.parametrize("tls", ["secret", "external"])
def test_secret_and_external_modes_need_the_certificate(tls):
    assert failing_field(data(tls=tls)) == "rancher_tls_cert"


def test_a_certificate_for_another_name_fails_the_secret_mode(ca):
    assert failing_field(with_tls(ca.issue(["other.example.net"]), "secret")) == "rancher_tls_cert"


# --- the manifest --------------------------------------------------------------------------------


def test_rancher_mode_is_the_helmchart_alone_with_rancher_tls():
    documents = manifest(data(replicas=1))
    assert (kinds(documents), chart_values(documents), tls_manifest(data())) == (
        [("HelmChart", "rancher")],
        {"hostname": HOSTNAME, "replicas": 1, "ingress": {"tls": {"source": "rancher"}}, "bootstrapPassword": PASSWORD},
        None)


def test_secret_mode_puts_the_tls_secret_in_the_tls_manifest(leaf):
    documents = tls_manifest(with_tls(leaf, "secret")) or []
    secret = documents[0]
    assert (kinds(documents), secret["type"], secret["metadata"]["namespace"], decoded(secret, "tls.crt"),
            decoded(secret, "tls.key")) == (
        [("Secret", "tls-rancher-ingress")], "kubernetes.io/tls", "cattle-system", leaf.cert, leaf.key)


@pytest.mark.parametrize("tls", ["secret", "external"])
def test_the_chart_manifest_holds_only_the_helmchart_in_every_mode(leaf, ca, tls):
    # every write of rancher.yaml must change the HelmChart's spec, so the install job re-runs
    assert kinds(manifest(with_tls(leaf, tls, ca=ca.pem.cert))) == [("HelmChart", "rancher")]


def test_secret_mode_values_ask_for_the_secret_without_private_ca(leaf):
    assert chart_values(manifest(with_tls(leaf, "secret"))) == {
        "hostname": HOSTNAME, "replicas": 1, "ingress": {"tls": {"source": "secret"}}, "bootstrapPassword": PASSWORD}


def test_a_private_ca_adds_tls_ca_and_private_ca(ca, leaf):
    host_data = with_tls(leaf, "secret", ca=ca.pem.cert)
    documents = tls_manifest(host_data) or []
    tls_ca = next(doc for doc in documents if doc["metadata"]["name"] == "tls-ca")
    assert (kinds(documents), tls_ca["metadata"]["namespace"], decoded(tls_ca, "cacerts.pem"),
            chart_values(manifest(host_data))["privateCA"]) == (
        [("Secret", "tls-rancher-ingress"), ("Secret", "tls-ca")], "cattle-system", ca.pem.cert, True)


def test_external_mode_has_no_tls_manifest_and_tells_the_chart_tls_is_external(leaf):
    host_data = with_tls(leaf, "external")
    values = chart_values(manifest(host_data))
    assert (tls_manifest(host_data), values["tls"], "ingress" in values, "privateCA" in values) == (
        None, "external", False, False)


def test_external_mode_with_a_private_ca_ships_only_tls_ca(ca, leaf):
    # Rancher's agents must trust the CA of the certificate HAProxy serves; the Ingress serves no Secret
    host_data = with_tls(leaf, "external", ca=ca.pem.cert)
    assert (kinds(tls_manifest(host_data) or []), chart_values(manifest(host_data))["privateCA"]) == (
        [("Secret", "tls-ca")], True)


def test_the_key_is_only_base64_in_the_tls_manifest_and_absent_from_the_chart(leaf):
    values = rancher_values(with_tls(leaf, "secret"))
    key = leaf.key.splitlines()[1]
    assert (key in (render_tls_manifest(values) or ""), key in render_manifest(values),
            base64.b64encode(leaf.key.encode()).decode() in render_manifest(values)) == (False, False, False)


def test_helmchart_installs_a_repository_chart_into_cattle_system():
    spec = helmchart(manifest(data(chart_version="2.10.1")))["spec"]
    assert (spec["chart"], spec["repo"], spec["version"], spec["targetNamespace"], spec["createNamespace"]) == \
        ("rancher", "https://releases.rancher.com/server-charts/stable", "2.10.1", "cattle-system", True)


def test_a_local_chart_is_installed_from_static_charts(tmp_path):
    chart = chart_archive(tmp_path, "rancher", "2.10.1")
    spec = helmchart(manifest(data(chart_file=str(chart))))["spec"]
    assert (spec["chart"], "repo" in spec, "version" in spec, "chartContent" in spec) == (
        "https://%{KUBERNETES_API}%/static/charts/rancher-2.10.1.tgz", False, False, False)


# --- the image the chart runs --------------------------------------------------------------------


def test_image_of_a_local_chart_is_its_app_version(tmp_path):
    chart = chart_archive(tmp_path, "rancher", "2.10.1", app_version="v2.10.1")
    assert rancher_values(data(chart_file=str(chart))).image == "rancher/rancher:v2.10.1"


def test_image_follows_the_charts_values(tmp_path):
    chart = chart_archive(tmp_path, "rancher", "2.10.1", app_version="v2.10.1",
                          values={"rancherImage": "mirror.example.net/rancher/rancher", "rancherImageTag": "v2.10.1-p1"})
    assert rancher_values(data(chart_file=str(chart))).image == "mirror.example.net/rancher/rancher:v2.10.1-p1"


@pytest.mark.parametrize("version,image", [("2.10.1", "rancher/rancher:v2.10.1"), (None, None)])
def test_image_of_a_repository_chart_is_known_only_with_its_version(version, image):
    settings = {"chart_version": version} if version else {}
    assert rancher_values(data(**settings)).image == image


# --- preflight: the chart's kubeVersion against k3s_version --------------------------------------


def local_chart(tmp_path, kube_version: str):
    return rancher_values(data(chart_file=str(chart_archive(tmp_path, "rancher", "2.9.3", kube_version=kube_version))))


def test_a_chart_whose_kube_version_excludes_k3s_is_refused_before_writing(tmp_path):
    with pytest.raises(InvalidField) as error:
        check_fits(local_chart(tmp_path, "< 1.31.0-0").chart, "rancher", "v1.31.4+k3s1")
    assert (error.value.field, error.value.problem) == (
        "rancher.chart_file", "chart rancher-2.9.3 requires kubeVersion < 1.31.0-0, which excludes k3s_version v1.31.4+k3s1")


def test_a_chart_that_fits_passes(tmp_path):
    assert check_fits(local_chart(tmp_path, ">= 1.23.0-0 < 1.32.0-0").chart, "rancher", "v1.31.4+k3s1") is None


def test_a_kube_version_helm_refuses_is_refused(tmp_path):
    with pytest.raises(InvalidField) as error:
        check_fits(local_chart(tmp_path, ">= 1.23 kubernetes").chart, "rancher", "v1.31.4+k3s1")
    assert error.value.problem.startswith("kubeVersion '>= 1.23 kubernetes': improper constraint")


def test_without_k3s_version_or_kube_version_nothing_is_checked(tmp_path):
    assert (check_fits(local_chart(tmp_path, "< 1.2.0").chart, "rancher", None),
            check_fits(rancher_values(data()).chart, "rancher", "v1.31.4+k3s1")) == (None, None)


def test_two_replicas_get_a_budget_keeping_one_rancher_pod():
    documents = list(yaml.safe_load_all(render_budget_manifest(rancher_values(data(replicas=2)))))
    assert documents == [{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                          "metadata": {"name": "rancher", "namespace": "cattle-system"},
                          "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "rancher"}}}}]


@pytest.mark.parametrize(("replicas", "min_available"), [(1, 1), (2, 0), (2, 2)])
def test_no_budget_where_it_would_allow_no_eviction_or_is_turned_off(replicas, min_available):
    assert render_budget_manifest(rancher_values(data(replicas=replicas, min_available=min_available))) is None


@pytest.mark.parametrize("bad", [-1, "1", True])
def test_min_available_must_be_a_whole_number(bad):
    assert failing_field(data(min_available=bad)) == "rancher.min_available"


def test_the_budget_is_not_in_the_chart_values():
    assert "min_available" not in chart_values(manifest(data(replicas=2, min_available=1)))


def test_more_replicas_retry_on_another_through_traefiks_middleware():
    values = rancher_values(data(replicas=2))
    assert chart_values(manifest(data(replicas=2)))["ingress"]["extraAnnotations"] == {
        "traefik.ingress.kubernetes.io/router.middlewares": "cattle-system-rancher-retry@kubernetescrd"}
    assert list(yaml.safe_load_all(render_retry_manifest(values))) == [{
        "apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
        "metadata": {"name": "rancher-retry", "namespace": "cattle-system"}, "spec": {"retry": {"attempts": 3}}}]


def test_one_replica_has_nothing_to_retry_on():
    assert (render_retry_manifest(rancher_values(data(replicas=1))),
            "extraAnnotations" in chart_values(manifest(data(replicas=1))).get("ingress", {})) == (None, False)
