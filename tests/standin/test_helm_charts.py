"""Unit tests of the stand-in's helm: kubeVersion constraints as Masterminds/semver, values as helm
merges them, the install Job's arguments as helm-controller builds them, and the objects the chart
renderers produce (rancher, cert-manager, traefik)."""

from __future__ import annotations

import pytest

from k3s_standin.controllers import helm_controller
from k3s_standin.helm import archive, semver, values
from k3s_standin.helm.charts import Release, RenderError, render
from k3s_standin.release import TRAEFIK_IMAGE

K3S = "v1.31.4+k3s1"


@pytest.mark.parametrize(("constraint", "expected"), [
    ("< 1.31.0-0", False), ("< 1.32.0-0", True), (">= 1.22.0-0", True), (">=1.20, <1.31", False),
    ("~1.31", True), ("^1.30", True), ("1.31.x", True), (">= 1.32 || < 1.30", False), ("!= 1.31.4", False)])
def test_kube_version_constraints(constraint: str, expected: bool) -> None:
    assert semver.satisfies(K3S, constraint) is expected


def test_pre_release_only_matches_a_pre_release_constraint() -> None:
    assert not semver.satisfies("1.32.0-rc.1", ">= 1.31")
    assert semver.satisfies("1.32.0-rc.1", ">= 1.32.0-0")


def test_values_files_then_sets_override_the_defaults() -> None:
    merged = values.merged({"a": {"b": 1, "c": 1}, "d": 1}, [{"a": {"b": 2}}, {"d": None}],
                           [("a.c", "3", True), ("e", "x\\,y", False)])
    assert merged == {"a": {"b": 2, "c": 3}, "e": "x,y"}


def test_install_job_arguments_as_helm_controller() -> None:
    chart = {"metadata": {"name": "r", "namespace": "kube-system"},
             "spec": {"targetNamespace": "t", "createNamespace": True, "version": "1.0",
                      "set": {"n": 2, "s": "a,b", "flag": "true"}}}
    assert helm_controller.args(chart) == ["install", "--namespace", "t", "--create-namespace", "--version", "1.0",
                                           "--set", "flag=true", "--set", "n=2", "--set-string", "s=a\\,b"]


def test_config_hash_follows_the_values() -> None:
    chart = {"metadata": {"name": "r", "namespace": "kube-system"}, "spec": {"chart": "r", "valuesContent": "a: 1"}}
    first = helm_controller.job(chart, None)[0]["spec"]["template"]["metadata"]["annotations"]
    config = {"spec": {"valuesContent": "b: 2"}}
    second = helm_controller.job(chart, config)[0]["spec"]["template"]["metadata"]["annotations"]
    assert first[helm_controller.CONFIG_HASH] != second[helm_controller.CONFIG_HASH]


def rancher(values_: dict) -> dict[str, dict]:
    release = Release("rancher", "cattle-system", {"name": "rancher", "version": "2.10.1", "appVersion": "v2.10.1"},
                      values.merged({"hostname": "r.lab", "replicas": 1}, [values_], []), K3S)
    return {obj["kind"]: obj for obj in render(release, {})}


def test_rancher_default_tls_renders_the_ca_issuer_and_cert_manager_annotations() -> None:
    objects = rancher({})
    assert objects["Issuer"]["spec"] == {"ca": {"secretName": "tls-rancher"}}
    assert objects["Ingress"]["metadata"]["annotations"]["cert-manager.io/issuer"] == "rancher"
    assert objects["Ingress"]["spec"]["tls"] == [{"hosts": ["r.lab"], "secretName": "tls-rancher-ingress"}]
    assert objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == "rancher/rancher:v2.10.1"


def test_rancher_secret_source_renders_no_issuer() -> None:
    objects = rancher({"ingress": {"tls": {"source": "secret"}}, "privateCA": True})
    assert "Issuer" not in objects
    assert objects["Deployment"]["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"] == "tls-ca"


def test_rancher_external_tls_has_no_tls_section() -> None:
    objects = rancher({"tls": "external"})
    assert "tls" not in objects["Ingress"]["spec"] and "Issuer" not in objects
    assert "--no-cacerts" in objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]


def test_rancher_needs_a_hostname() -> None:
    with pytest.raises(RenderError):
        render(Release("rancher", "cattle-system", {"name": "rancher", "version": "2.10.1"}, {}, K3S), {})


def test_cert_manager_crds_only_when_enabled() -> None:
    chart = {"name": "cert-manager", "version": "v1.16.2", "appVersion": "v1.16.2"}
    without = render(Release("cert-manager", "cert-manager", chart, {}, K3S), {})
    with_crds = render(Release("cert-manager", "cert-manager", chart, {"crds": {"enabled": True}}, K3S), {})
    assert "CustomResourceDefinition" not in {obj["kind"] for obj in without}
    assert {obj["metadata"]["name"] for obj in with_crds if obj["kind"] == "CustomResourceDefinition"} >= {
        "issuers.cert-manager.io", "certificates.cert-manager.io", "clusterissuers.cert-manager.io"}
    webhook = next(obj for obj in without if obj["kind"] == "ValidatingWebhookConfiguration")
    assert webhook["webhooks"][0]["clientConfig"]["service"]["name"] == "cert-manager-webhook"
    images = {obj["spec"]["template"]["spec"]["containers"][0]["image"] for obj in without if obj["kind"] == "Deployment"}
    assert "jetstack/cert-manager-webhook:v1.16.2" in images


def test_traefik_trusted_ips_become_entrypoint_arguments() -> None:
    repository, tag = TRAEFIK_IMAGE.rsplit(":", 1)
    chart = {"name": "traefik", "version": "27.0.201+up27.0.2", "appVersion": "v2.11.0"}
    merged = values.merged({"image": {"repository": repository, "tag": tag}},
                           [{"ports": {"web": {"forwardedHeaders": {"trustedIPs": ["10.0.0.1", "10.0.0.2"]}}}}], [])
    objects = {obj["kind"]: obj for obj in render(Release("traefik", "kube-system", chart, merged, K3S), {})}
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == TRAEFIK_IMAGE
    assert {"--entryPoints.web.address=:8000/tcp", "--entryPoints.websecure.address=:8443/tcp",
            "--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.1,10.0.0.2"} <= set(container["args"])
    assert [(p["port"], p["targetPort"]) for p in objects["Service"]["spec"]["ports"]] == [(80, "web"), (443, "websecure")]
    assert objects["Service"]["spec"]["type"] == "LoadBalancer"


def test_chart_archive_round_trip() -> None:
    loaded = archive.load(archive.build({"apiVersion": "v2", "name": "demo", "version": "1.0.0",
                                         "kubeVersion": ">= 1.22.0-0"}, {"a": 1}))
    assert (loaded.name, loaded.metadata["kubeVersion"], loaded.values) == ("demo", ">= 1.22.0-0", {"a": 1})


def traefik(overrides: dict) -> dict[str, dict]:
    chart = {"name": "traefik", "version": "27.0.201+up27.0.2", "appVersion": "v2.11.0"}
    merged = values.merged({"deployment": {"replicas": 1}, "podDisruptionBudget": {"enabled": False}}, [overrides], [])
    return {obj["kind"]: obj for obj in render(Release("traefik", "kube-system", chart, merged, K3S), {})}


def test_rancher_spreads_its_replicas_as_the_chart_does() -> None:
    spec = rancher({"replicas": 2})["Deployment"]["spec"]
    term = spec["template"]["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term == [{"weight": 100, "podAffinityTerm": {
        "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["rancher"]}]},
        "topologyKey": "kubernetes.io/hostname"}}]
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 1}
    assert rancher({"replicas": 1})["Deployment"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    required = rancher({"antiAffinity": "required"})["Deployment"]["spec"]["template"]["spec"]["affinity"]
    assert list(required["podAntiAffinity"]) == ["requiredDuringSchedulingIgnoredDuringExecution"]
    assert "PodDisruptionBudget" not in rancher({"replicas": 2})


def test_traefik_replicas_budget_and_affinity_come_from_values() -> None:
    affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100,
                "podAffinityTerm": {"labelSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}},
                                    "topologyKey": "kubernetes.io/hostname"}}]}}
    objects = traefik({"deployment": {"replicas": 2}, "affinity": affinity,
                       "podDisruptionBudget": {"enabled": True, "minAvailable": 1}})
    assert objects["Deployment"]["spec"]["replicas"] == 2
    assert objects["Deployment"]["spec"]["template"]["spec"]["affinity"] == affinity
    assert objects["PodDisruptionBudget"]["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "traefik",
                                     "app.kubernetes.io/instance": "traefik-kube-system"}},
        "minAvailable": 1}
    plain = traefik({})
    assert "PodDisruptionBudget" not in plain and "affinity" not in plain["Deployment"]["spec"]["template"]["spec"]
    assert plain["Deployment"]["spec"]["replicas"] == 1


def test_traefik_refuses_acme_with_more_than_one_replica() -> None:
    with pytest.raises(RenderError, match="You can not enable acme if you set more than one traefik replica"):
        traefik({"deployment": {"replicas": 2}, "additionalArguments": ["--certificatesresolvers.le.acme.email=a@b"]})
