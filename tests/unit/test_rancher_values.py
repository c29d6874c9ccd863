"""Validation of Rancher's inventory values and the manifest rendered from them."""

from __future__ import annotations

import base64

import pytest
import yaml

from tasks.rancher_values import rancher_values, render_manifest
from tasks.settings import InvalidField

PASSWORD = "s3cret: with #yaml 'chars\""


def data(**rancher) -> dict:
    return {
        "rancher": {"hostname": "rancher.example.net", **rancher},
        "rancher_hostname": "rancher.example.net",
        "haproxy_backend_port": 443,
        "rancher_bootstrap_password": PASSWORD,
    }


def failing_field(host_data: dict) -> str:
    with pytest.raises(InvalidField) as error:
        rancher_values(host_data)
    return error.value.field


def manifest(host_data: dict) -> list[dict]:
    return list(yaml.safe_load_all(render_manifest(rancher_values(host_data))))


def test_defaults_one_replica_rancher_tls_loadbalancer():
    values = rancher_values(data())
    assert (values.replicas, values.tls, values.exposure, values.port) == (1, "rancher", "loadbalancer", 443)


@pytest.mark.parametrize("hostname", ["rancher", "Rancher.example.net", "-r.example.net", "a..b", "r_1.example.net", 7])
def test_hostname_must_be_a_dns_name(hostname):
    assert failing_field(data(hostname=hostname)) == "rancher.hostname"


def test_hostname_must_match_what_haproxy_routes():
    assert failing_field(data(hostname="other.example.net")) == "rancher.hostname"


def test_hostname_defaults_to_rancher_hostname():
    host_data = data()
    del host_data["rancher"]["hostname"]
    assert rancher_values(host_data).hostname == "rancher.example.net"


@pytest.mark.parametrize("replicas", [0, -1, "2", 1.5, True])
def test_replicas_must_be_an_integer_of_at_least_one(replicas):
    assert failing_field(data(replicas=replicas)) == "rancher.replicas"


@pytest.mark.parametrize("port", [0, 65536, 70000, "443"])
def test_backend_port_must_be_a_port(port):
    assert failing_field({**data(), "haproxy_backend_port": port}) == "haproxy_backend_port"


def test_nodeport_exposure_needs_a_port_in_the_nodeport_range():
    assert failing_field(data(exposure="nodeport")) == "haproxy_backend_port"


@pytest.mark.parametrize("field,value", [("exposure", "ingress"), ("tls", "letsencrypt"), ("repo", "ftp://x"),
                                         ("chart_version", 2.9), ("wait_seconds", 0), ("replica", 1)])
def test_bad_values_name_their_field(field, value):
    assert failing_field(data(**{field: value})) == f"rancher.{field}"


def test_short_password_fails_without_showing_it():
    with pytest.raises(InvalidField) as error:
        rancher_values({**data(), "rancher_bootstrap_password": "short-pw"})
    assert (error.value.field, "short-pw" in str(error.value)) == ("rancher_bootstrap_password", False)


def test_password_is_hidden_from_the_values_repr():
    assert PASSWORD not in repr(rancher_values(data()))


def test_chart_file_and_chart_version_exclude_each_other(tmp_path):
    chart = tmp_path / "rancher-2.9.3.tgz"
    chart.write_bytes(b"\x1f\x8b chart")
    assert failing_field(data(chart_file=str(chart), chart_version="2.9.3")) == "rancher.chart_file"


def test_missing_chart_file_fails(tmp_path):
    assert failing_field(data(chart_file=str(tmp_path / "absent.tgz"))) == "rancher.chart_file"


def test_chart_file_is_sent_as_chart_content(tmp_path):
    chart = tmp_path / "rancher-2.9.3.tgz"
    chart.write_bytes(b"\x1f\x8b chart")
    spec = manifest(data(chart_file=str(chart)))[1]["spec"]
    assert (base64.b64decode(spec["chartContent"]), "repo" in spec) == (b"\x1f\x8b chart", False)


def test_manifest_holds_namespace_helmchart_and_service_in_order():
    assert [(doc["apiVersion"], doc["kind"]) for doc in manifest(data())] == [
        ("v1", "Namespace"), ("helm.cattle.io/v1", "HelmChart"), ("v1", "Service")]


def test_helmchart_installs_into_cattle_system():
    spec = manifest(data(chart_version="2.9.3"))[1]["spec"]
    assert (spec["chart"], spec["version"], spec["targetNamespace"], spec["createNamespace"]) == \
        ("rancher", "2.9.3", "cattle-system", True)


def test_values_content_carries_hostname_replicas_tls_and_password():
    values = yaml.safe_load(manifest(data(replicas=3, tls="secret"))[1]["spec"]["valuesContent"])
    assert values == {"hostname": "rancher.example.net", "replicas": 3,
                      "ingress": {"tls": {"source": "secret"}}, "bootstrapPassword": PASSWORD}


def test_external_tls_is_the_chart_tls_value():
    assert yaml.safe_load(manifest(data(tls="external"))[1]["spec"]["valuesContent"])["tls"] == "external"


def test_loadbalancer_service_listens_on_the_backend_port():
    spec = manifest(data())[2]["spec"]
    assert (spec["type"], spec["selector"], spec["ports"][0]["port"], spec["ports"][0]["targetPort"]) == \
        ("LoadBalancer", {"app": "rancher"}, 443, 443)


def test_nodeport_service_uses_the_backend_port_as_node_port():
    spec = manifest({**data(exposure="nodeport"), "haproxy_backend_port": 30443})[2]["spec"]
    assert (spec["type"], spec["ports"][0]["nodePort"], spec["ports"][0]["targetPort"]) == ("NodePort", 30443, 443)
