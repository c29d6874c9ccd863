"""Where the deploy's manifests live: k3s applies every file in its server's manifests directory (docs.k3s.io,
"Auto-Deploying Manifests"), and a chart's status fact stats the very file its task writes."""

from __future__ import annotations

from facts import rancher as rancher_fact
from facts.names import K3S_MANIFESTS_DIR, manifest_path
from tasks import rancher as rancher_task
from tasks import traefik_config


def test_a_manifest_is_one_yaml_file_in_k3s_manifests_directory():
    assert (K3S_MANIFESTS_DIR, manifest_path("rancher-tls")) == (
        "/var/lib/rancher/k3s/server/manifests", "/var/lib/rancher/k3s/server/manifests/rancher-tls.yaml")


def test_rancher_status_stats_the_helmchart_manifest_the_task_writes():
    assert rancher_fact.MANIFEST == rancher_task.MANIFEST_PATH == manifest_path("rancher")


def test_the_tls_secrets_and_traefiks_config_have_files_of_their_own():
    assert len({rancher_task.MANIFEST_PATH, rancher_task.TLS_MANIFEST_PATH, rancher_task.BUDGET_MANIFEST_PATH,
                traefik_config.MANIFEST_PATH}) == 4
