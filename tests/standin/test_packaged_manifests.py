"""What `k3s server` writes at start, as k3s does: its packaged manifests (coredns, local-storage,
metrics-server, traefik as the HelmChart pair) applied by the deploy controller, the static traefik
charts, and `disable:` (not written; an existing file deleted with its objects)."""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes
import pytest
import yaml

import conftest
from k3s_standin import release
from k3s_standin.client import Client
from k3s_standin.helm import archive
from k3s_standin.packaged import components
from test_helm_job import require_served, run_install

MANIFESTS = ["coredns.yaml", "local-storage.yaml", "metrics-server/metrics-server-deployment.yaml",
             "metrics-server/metrics-server-service.yaml", "traefik.yaml"]


@pytest.fixture(scope="module")
def disabled_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[conftest.Server]:
    """A server started with traefik and metrics-server disabled over a data dir in which an
    earlier start (without `disable:`) left their manifests."""
    directory = tmp_path_factory.mktemp("disabled")
    manifests = directory / "data" / "server" / "manifests"
    (manifests / "metrics-server").mkdir(parents=True)
    (manifests / "traefik.yaml").write_text(yaml.safe_dump_all(components.traefik()))
    (manifests / "metrics-server" / "metrics-server-service.yaml").write_text(
        yaml.safe_dump_all(components.metrics_server_service()))
    started = conftest.start_server(directory, conftest.free_port(), ["--disable=traefik,metrics-server"])
    yield started
    conftest.stop_server(started)


def custom(server: conftest.Server) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(kubernetes.config.new_client_from_config(str(server.kubeconfig)))


def chart_names(server: conftest.Server) -> set[str]:
    items = custom(server).list_namespaced_custom_object("helm.cattle.io", "v1", "kube-system", "helmcharts")["items"]
    return {item["metadata"]["name"] for item in items}


def test_packaged_manifests_are_written(k3s_server: conftest.Server) -> None:
    manifests = k3s_server.data_dir / "server" / "manifests"
    assert all((manifests / name).is_file() for name in MANIFESTS)
    assert oct((manifests / "coredns.yaml").stat().st_mode & 0o777) == "0o600"


def test_traefik_helm_charts_reference_the_static_charts(k3s_server: conftest.Server) -> None:
    conftest.wait_for("the traefik HelmCharts", lambda: {"traefik", "traefik-crd"} <= chart_names(k3s_server))
    chart = custom(k3s_server).get_namespaced_custom_object("helm.cattle.io", "v1", "kube-system",
                                                                 "helmcharts", "traefik")
    assert chart["spec"]["chart"] == f"https://%{{KUBERNETES_API}}%/static/charts/{release.TRAEFIK_CHART}"
    assert 'priorityClassName: "system-cluster-critical"' in chart["spec"]["valuesContent"]


def test_static_charts_are_chart_archives(k3s_server: conftest.Server) -> None:
    static = k3s_server.data_dir / "server" / "static" / "charts"
    loaded = archive.load((static / release.TRAEFIK_CHART).read_bytes())
    assert (loaded.name, loaded.metadata["version"]) == ("traefik", release.TRAEFIK_CHART_VERSION)
    assert archive.load((static / release.TRAEFIK_CRD_CHART).read_bytes()).name == "traefik-crd"


def test_coredns_is_applied_with_the_release_image(k3s_server: conftest.Server) -> None:
    apps = kubernetes.client.AppsV1Api(kubernetes.config.new_client_from_config(str(k3s_server.kubeconfig)))
    deployment = conftest.wait_for("the coredns Deployment", lambda: next(
        (item for item in apps.list_namespaced_deployment("kube-system").items if item.metadata.name == "coredns"), None))
    assert deployment.spec.template.spec.containers[0].image == release.COREDNS_IMAGE


def test_disabled_components_are_not_written_and_their_files_deleted(disabled_server: conftest.Server) -> None:
    manifests = disabled_server.data_dir / "server" / "manifests"
    conftest.wait_for("the disabled manifests to be deleted", lambda: not (manifests / "traefik.yaml").exists()
                      and not (manifests / "metrics-server" / "metrics-server-service.yaml").exists())
    assert (manifests / "coredns.yaml").is_file()


def test_disabled_traefik_leaves_no_helm_chart(disabled_server: conftest.Server) -> None:
    manifests = disabled_server.data_dir / "server" / "manifests"
    conftest.wait_for("traefik.yaml to be deleted", lambda: not (manifests / "traefik.yaml").exists())
    assert not {"traefik", "traefik-crd"} & chart_names(disabled_server)


def test_a_skip_file_keeps_a_manifest_from_being_applied(k3s_server: conftest.Server) -> None:
    manifests = k3s_server.data_dir / "server" / "manifests"
    (manifests / "skipped.yaml.skip").write_text("")
    (manifests / "skipped.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "skipped", "namespace": "default"}}))
    (manifests / "applied.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": "default"}}))
    core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(k3s_server.kubeconfig)))
    conftest.wait_for("applied.yaml to be applied",
                      lambda: core.list_namespaced_config_map("default", field_selector="metadata.name=applied").items)
    assert not core.list_namespaced_config_map("default", field_selector="metadata.name=skipped").items


def test_traefik_installs_from_the_static_charts(k3s_server: conftest.Server) -> None:
    api = Client(k3s_server.url, k3s_server.ca_file, (k3s_server.data_dir / "server" / "token").read_text().strip())
    require_served(api, "apiextensions.k8s.io/v1")
    require_served(api, "networking.k8s.io/v1")
    assert run_install(api, "traefik-crd")[0] == 0
    code, lines = run_install(api, "traefik")
    assert (code, lines[-3]) == (0, "STATUS: deployed")
    apps = kubernetes.client.AppsV1Api(kubernetes.config.new_client_from_config(str(k3s_server.kubeconfig)))
    container = apps.read_namespaced_deployment("traefik", "kube-system").spec.template.spec.containers[0]
    # traefik's chart prefixes image.registry (docker.io by default) to k3s's image.repository
    assert container.image == f"docker.io/{release.TRAEFIK_IMAGE}"
    assert {(port.name, port.container_port) for port in container.ports} >= {("web", 8000), ("websecure", 8443)}
