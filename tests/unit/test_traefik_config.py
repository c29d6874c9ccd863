"""k3s's Traefik told to trust HAProxy's forwarded headers when HAProxy ends TLS (rancher.tls external)."""

from __future__ import annotations

import yaml
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_inventory, ctx_state

from tasks.traefik_config import render_manifest, trusted_ips


def test_the_manifest_is_a_helmchartconfig_for_k3s_traefik():
    document = yaml.safe_load(render_manifest(["10.213.0.5/32"]))
    assert (document["apiVersion"], document["kind"], document["metadata"]) == (
        "helm.cattle.io/v1", "HelmChartConfig", {"name": "traefik", "namespace": "kube-system"})


def test_the_web_entry_point_trusts_the_given_addresses_only():
    values = yaml.safe_load(yaml.safe_load(render_manifest(["10.213.0.5/32", "10.213.0.6/32"]))["spec"]["valuesContent"])
    assert values == {"ports": {"web": {"forwardedHeaders": {"trustedIPs": ["10.213.0.5/32", "10.213.0.6/32"]}}}}


def test_the_haproxy_hosts_each_as_one_address_and_the_pod_network_are_trusted():
    hosts = [("haproxy-1", {"node_ip": "10.213.0.5"}), ("haproxy-2", {"node_ip": "10.213.0.6"}),
             ("k3s-control", {"node_ip": "10.213.0.101"})]
    inventory = Inventory((hosts, {}), haproxy=(["haproxy-1", "haproxy-2"], {}), k3s_control=(["k3s-control"], {}))
    with ctx_state.use(State(inventory, Config())), ctx_inventory.use(inventory):
        assert trusted_ips("10.42.0.0/16") == ["10.213.0.5/32", "10.213.0.6/32", "10.42.0.0/16"]
