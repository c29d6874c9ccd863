"""k3s's Traefik through one HelmChartConfig: spread over nodes with a disruption budget in every TLS
mode, and trusting HAProxy's forwarded headers when HAProxy ends TLS (rancher.tls external)."""

from __future__ import annotations

import hashlib

import pytest
import yaml
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_inventory, ctx_state

from tasks.helm_chart import manifest_present
from tasks.settings import InvalidField
from tasks.traefik_config import MANIFEST_PATH, TraefikValues, render_manifest, traefik_values, trusted_ips
from tests.unit.operation_outputs import host_state, run

DEFAULTS = TraefikValues(replicas=2, min_available=1, accept_grace_seconds=5)
DRAIN = ["--entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeout=5s",
         "--entryPoints.websecure.transport.lifeCycle.requestAcceptGraceTimeout=5s"]
SPREAD = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik",
                                      "app.kubernetes.io/instance": "traefik-kube-system"}},
    "topologyKey": "kubernetes.io/hostname"}}]}}


def chart_values(values: TraefikValues, trusted: list[str] | None) -> dict:
    return yaml.safe_load(yaml.safe_load(render_manifest(values, trusted))["spec"]["valuesContent"])


def test_the_manifest_is_a_helmchartconfig_for_k3s_traefik():
    document = yaml.safe_load(render_manifest(DEFAULTS, None))
    assert (document["apiVersion"], document["kind"], document["metadata"]) == (
        "helm.cattle.io/v1", "HelmChartConfig", {"name": "traefik", "namespace": "kube-system"})


def test_by_default_two_spread_replicas_and_a_budget_keeping_one():
    assert traefik_values({}) == DEFAULTS
    assert chart_values(DEFAULTS, None) == {"deployment": {"replicas": 2}, "affinity": SPREAD,
                                            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
                                            "additionalArguments": DRAIN}


def test_stopped_traefik_keeps_accepting_on_both_entry_points_for_the_grace_or_not_at_all():
    longer = chart_values(traefik_values({"traefik": {"accept_grace_seconds": 20}}), None)
    assert longer["additionalArguments"] == [arg.replace("=5s", "=20s") for arg in DRAIN]
    assert "additionalArguments" not in chart_values(traefik_values({"traefik": {"accept_grace_seconds": 0}}), None)


def test_external_tls_adds_the_trusted_addresses_to_the_same_values():
    values = chart_values(DEFAULTS, ["10.213.0.5/32", "10.213.0.6/32"])
    assert values["ports"] == {"web": {"forwardedHeaders": {"trustedIPs": ["10.213.0.5/32", "10.213.0.6/32"]}}}
    assert values["deployment"] == {"replicas": 2} and values["affinity"] == SPREAD


@pytest.mark.parametrize(("replicas", "min_available"), [(1, 1), (3, 0), (2, 2)])
def test_no_budget_where_it_would_allow_no_eviction_or_is_turned_off(replicas, min_available):
    values = traefik_values({"traefik": {"replicas": replicas, "min_available": min_available}})
    assert "podDisruptionBudget" not in chart_values(values, None)
    assert chart_values(values, None)["deployment"] == {"replicas": replicas}


@pytest.mark.parametrize(("settings", "field"), [({"replicas": 0}, "traefik.replicas"),
                                                 ({"replicas": "2"}, "traefik.replicas"),
                                                 ({"min_available": -1}, "traefik.min_available"),
                                                 ({"accept_grace_seconds": 51}, "traefik.accept_grace_seconds"),
                                                 ({"accept_grace_seconds": "5s"}, "traefik.accept_grace_seconds"),
                                                 ({"replica": 2}, "traefik.replica")])
def test_bad_values_name_their_field(settings, field):
    with pytest.raises(InvalidField) as error:
        traefik_values({"traefik": settings})
    assert error.value.field == field


def test_the_haproxy_hosts_each_as_one_address_and_the_pod_network_are_trusted():
    hosts = [("haproxy-1", {"node_ip": "10.213.0.5"}), ("haproxy-2", {"node_ip": "10.213.0.6"}),
             ("k3s-control", {"node_ip": "10.213.0.101"})]
    inventory = Inventory((hosts, {}), haproxy=(["haproxy-1", "haproxy-2"], {}), k3s_control=(["k3s-control"], {}))
    with ctx_state.use(State(inventory, Config())), ctx_inventory.use(inventory):
        assert trusted_ips("10.42.0.0/16") == ["10.213.0.5/32", "10.213.0.6/32", "10.42.0.0/16"]


def test_a_rerun_with_the_live_manifest_changes_nothing():
    content = render_manifest(DEFAULTS, ["10.213.0.5/32"])
    assert render_manifest(traefik_values({}), ["10.213.0.5/32"]) == content
    live = {"mode": "600", "sha256": hashlib.sha256(content.encode()).hexdigest()}
    commands, host = run(manifest_present, facts=host_state(files={MANIFEST_PATH: live}), path=MANIFEST_PATH,
                         content=content)
    assert (commands, host.noop_description) == ([], f"{MANIFEST_PATH} is up to date")
    older = {"mode": "600", "sha256": hashlib.sha256(render_manifest(DEFAULTS, None).encode()).hexdigest()}
    commands, _ = run(manifest_present, facts=host_state(files={MANIFEST_PATH: older}), path=MANIFEST_PATH,
                      content=content)
    assert ["upload", content, "/var/lib/rancher/k3s/server/manifests/.traefik-config.yaml.new"] in commands
