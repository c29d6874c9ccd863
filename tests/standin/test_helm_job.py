"""The helm-controller's install Job and what its klipper-helm container does, against a local
`k3s server`: the Job and its values/content objects as helm-controller v0.16.5 writes them, and
`k3s_standin.helm.job.run` (the container, called here as the kubelet calls it) failing or installing
with helm's own messages."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
import yaml

import conftest
from airgap_inputs import OLD_RANCHER_CHART, RANCHER_CHART
from charts import chart_bytes
from k3s_standin.client import Client
from k3s_standin.helm import archive, job

Obj = dict[str, Any]
NAMESPACE = "kube-system"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[conftest.Server]:
    started = conftest.start_server(tmp_path_factory.mktemp("helm"), conftest.free_port(),
                                    ["--disable=traefik,metrics-server,local-storage,coredns"])
    yield started
    conftest.stop_server(started)


@pytest.fixture(scope="module")
def api(server: conftest.Server) -> Client:
    token = (server.data_dir / "server" / "token").read_text().strip()
    return Client(server.url, server.ca_file, token)


@pytest.fixture(scope="module")
def custom(server: conftest.Server) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(kubernetes.config.new_client_from_config(str(server.kubeconfig)))


@pytest.fixture(scope="module")
def core(server: conftest.Server) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(server.kubeconfig)))


def require_served(api: Client, group_version: str) -> None:
    """Skip until the stand-in's API serves a group this behaviour needs (another change adds it)."""
    if api.find(f"/apis/{group_version}") is None:
        pytest.skip(f"the API does not serve {group_version} yet")


def content(data: bytes) -> str:
    return base64.b64encode(data).decode()


def helm_chart(custom: kubernetes.client.CustomObjectsApi, name: str, spec: Obj) -> None:
    custom.create_namespaced_custom_object("helm.cattle.io", "v1", NAMESPACE, "helmcharts", {
        "apiVersion": "helm.cattle.io/v1", "kind": "HelmChart", "metadata": {"name": name}, "spec": spec})


def install_pod(api: Client, name: str, job_uid: str = "") -> Obj:
    """The newest pod of the chart's install Job (optionally of a Job other than `job_uid`)."""
    def found() -> Obj | None:
        current = api.find(f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/helm-install-{name}")
        if current is None or current["metadata"]["uid"] == job_uid:
            return None
        pods = api.list(f"/api/v1/namespaces/{NAMESPACE}/pods",
                        labelSelector=f"batch.kubernetes.io/controller-uid={current['metadata']['uid']}")
        return pods[0] if pods else None
    return conftest.wait_for(f"the pod of helm-install-{name}", found, 20)


def run_install(api: Client, name: str, job_uid: str = "") -> tuple[int, list[str]]:
    pod = install_pod(api, name, job_uid)
    return job.run(pod, pod["spec"]["containers"][0], api)


def plain_chart(name: str, version: str, data_value: str = "one") -> bytes:
    template = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-settings"},
                               "data": {"value": data_value}})
    return archive.build({"apiVersion": "v2", "name": name, "version": version}, {},
                         {"templates/settings.yaml": template})


def test_install_job_carries_upstream_spec(api: Client, custom: kubernetes.client.CustomObjectsApi) -> None:
    helm_chart(custom, "shape", {"chart": "shape", "repo": "https://charts.lab.invalid/stable",
                                 "targetNamespace": "default", "valuesContent": "a: 1\n", "set": {"b": "x,y"}})
    pod = install_pod(api, "shape")
    installer = api.get(f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/helm-install-shape")
    container = installer["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert (installer["spec"]["backoffLimit"], installer["spec"]["template"]["spec"]["restartPolicy"]) == (1000, "OnFailure")
    assert container["args"] == ["install", "--namespace", "default", "--set-string", "b=x\\,y"]
    assert (env["CHART"], env["TARGET_NAMESPACE"], env["FAILURE_POLICY"]) == ("shape/shape", "default", "reinstall")
    values = api.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/chart-values-shape")
    assert base64.b64decode(values["data"]["values-01_HelmChart.yaml"]) == b"a: 1\n"
    assert pod["metadata"]["generateName"] == "helm-install-shape-"
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "helm-install-shape"


def test_repo_chart_fails_with_helms_message(api: Client, custom: kubernetes.client.CustomObjectsApi) -> None:
    helm_chart(custom, "from-repo", {"chart": "rancher", "repo": "https://releases.rancher.com/server-charts/stable",
                                     "targetNamespace": "cattle-system"})
    code, lines = run_install(api, "from-repo")
    assert code == 1
    assert lines[-1].startswith('Error: looks like "https://releases.rancher.com/server-charts/stable" is not a '
                                "valid chart repository or cannot be reached: ")


def test_kube_version_excluding_the_cluster_refuses_the_install(api: Client,
                                                               custom: kubernetes.client.CustomObjectsApi) -> None:
    helm_chart(custom, "old-rancher", {"chartContent": content(chart_bytes(OLD_RANCHER_CHART)),
                                       "targetNamespace": "cattle-system", "createNamespace": True,
                                       "valuesContent": "hostname: rancher.lab\n"})
    code, lines = run_install(api, "old-rancher")
    assert (code, lines[-1]) == (1, "Error: INSTALLATION FAILED: chart requires kubeVersion: < 1.31.0-0 which is "
                                    "incompatible with Kubernetes v1.31.4+k3s1")


def test_rancher_tls_without_cert_manager_fails_on_the_issuer(api: Client, core: kubernetes.client.CoreV1Api,
                                                              custom: kubernetes.client.CustomObjectsApi) -> None:
    require_served(api, "networking.k8s.io/v1")
    helm_chart(custom, "rancher", {"chartContent": content(chart_bytes(RANCHER_CHART)),
                                   "targetNamespace": "cattle-system", "createNamespace": True,
                                   "valuesContent": "hostname: rancher.lab\nreplicas: 1\n"})
    code, lines = run_install(api, "rancher")
    assert (code, lines[-2:]) == (1, [
        'Error: INSTALLATION FAILED: unable to build kubernetes objects from release manifest: resource mapping '
        'not found for name: "rancher" namespace: "" from "": no matches for kind "Issuer" in version '
        '"cert-manager.io/v1"', "ensure CRDs are installed first"])
    assert not core.list_namespaced_service_account("cattle-system", field_selector="metadata.name=rancher").items


def test_chart_content_installs_and_a_changed_spec_upgrades(api: Client, core: kubernetes.client.CoreV1Api,
                                                            custom: kubernetes.client.CustomObjectsApi) -> None:
    helm_chart(custom, "demo", {"chartContent": content(plain_chart("demo", "1.0.0")), "targetNamespace": "default"})
    code, lines = run_install(api, "demo")
    assert (code, lines[-3]) == (0, "STATUS: deployed")
    settings = core.read_namespaced_config_map("demo-settings", "default")
    assert (settings.metadata.labels["app.kubernetes.io/managed-by"],
            settings.metadata.annotations["meta.helm.sh/release-name"]) == ("Helm", "demo")
    first = api.get(f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/helm-install-demo")["metadata"]["uid"]
    custom.patch_namespaced_custom_object("helm.cattle.io", "v1", NAMESPACE, "helmcharts", "demo", {
        "spec": {"chartContent": content(plain_chart("demo", "1.1.0", "two"))}})
    code, lines = run_install(api, "demo", job_uid=first)
    assert (code, lines[-2]) == (0, "REVISION: 2")
    assert core.read_namespaced_config_map("demo-settings", "default").data == {"value": "two"}
    record = core.read_namespaced_secret("sh.helm.release.v1.demo.v2", "default")
    assert (record.type, record.metadata.labels["status"]) == ("helm.sh/release.v1", "deployed")


def test_helm_chart_config_values_reach_the_values_secret(api: Client,
                                                         custom: kubernetes.client.CustomObjectsApi) -> None:
    helm_chart(custom, "configured", {"chart": "configured", "repo": "https://charts.lab.invalid"})
    first = install_pod(api, "configured")["metadata"]["labels"]["batch.kubernetes.io/controller-uid"]
    custom.create_namespaced_custom_object("helm.cattle.io", "v1", NAMESPACE, "helmchartconfigs", {
        "apiVersion": "helm.cattle.io/v1", "kind": "HelmChartConfig", "metadata": {"name": "configured"},
        "spec": {"valuesContent": "ports:\n  web:\n    forwardedHeaders:\n      trustedIPs: [10.213.0.121]\n"}})
    install_pod(api, "configured", job_uid=first)
    values = api.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/chart-values-configured")
    assert "values-10_HelmChartConfig.yaml" in values["data"]


def test_rancher_chart_installs_its_deployment_and_service(api: Client, server: conftest.Server,
                                                           core: kubernetes.client.CoreV1Api,
                                                           custom: kubernetes.client.CustomObjectsApi) -> None:
    helm_chart(custom, "rancher-plain", {"chartContent": content(chart_bytes(RANCHER_CHART)),
                                         "targetNamespace": "cattle-plain", "createNamespace": True,
                                         "valuesContent": "hostname: rancher.lab\nreplicas: 1\n"
                                                          "ingress:\n  enabled: false\n  tls:\n    source: secret\n"})
    code, lines = run_install(api, "rancher-plain")
    assert (code, lines[-3]) == (0, "STATUS: deployed")
    apps = kubernetes.client.AppsV1Api(kubernetes.config.new_client_from_config(str(server.kubeconfig)))
    deployment = apps.read_namespaced_deployment("rancher-plain", "cattle-plain")
    assert (deployment.spec.replicas, deployment.spec.template.spec.containers[0].image) == (1, "rancher/rancher:v2.10.1")
    service = core.read_namespaced_service("rancher-plain", "cattle-plain")
    assert {port.port for port in service.spec.ports} == {80, 443}


def test_a_bare_chart_name_without_repo_fails_as_helm(api: Client, custom: kubernetes.client.CustomObjectsApi) -> None:
    helm_chart(custom, "bare", {"chart": "rancher"})
    assert run_install(api, "bare") == (1, [
        "+ helm ls --all -f '^bare$' --namespace kube-system --output json", "+ helm install bare rancher",
        "Error: INSTALLATION FAILED: non-absolute URLs should be in form of repo_name/path_to_chart, got: rancher"])
