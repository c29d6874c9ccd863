"""An HA control plane from the inventory: an odd number of servers, the first with cluster-init,
the others and the agents joining at the registration address; a lone server as before."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inventory_schema import InventoryError, load_inventory
from tasks.k3s_config import config_entries
from tests.unit.ha_inventory import cluster, on_inventory_host


def entries(tmp_path: Path, raw: dict, name: str) -> dict:
    with on_inventory_host(raw, name, tmp_path):
        return config_entries()


def server_urls(tmp_path: Path, raw: dict) -> set[str]:
    path = tmp_path / "cluster.yml"
    path.write_text(yaml.safe_dump(raw))
    return {member.data["k3s_server_url"] for member in load_inventory(path).hosts}


@pytest.mark.parametrize("servers", [2, 4])
def test_an_even_number_of_servers_is_refused_naming_the_field(tmp_path: Path, servers: int) -> None:
    path = tmp_path / "cluster.yml"
    path.write_text(yaml.safe_dump(cluster(servers=servers)))
    with pytest.raises(InventoryError, match=rf"^inventory: field k3s_control: {servers} hosts; embedded etcd needs "
                                             r"an odd number \(1, 3 or 5\)"):
        load_inventory(path)


def test_every_host_registers_through_haproxy_in_an_ha_cluster(tmp_path: Path) -> None:
    assert server_urls(tmp_path, cluster(servers=3)) == {"https://192.0.2.121:6443"}


def test_without_haproxy_the_first_server_is_the_registration_address(tmp_path: Path) -> None:
    assert server_urls(tmp_path, cluster(servers=3, haproxy=False)) == {"https://192.0.2.101:6443"}


def test_an_operator_may_name_the_registration_address(tmp_path: Path) -> None:
    raw = cluster(servers=5, data={"k3s_registration_address": "api.example.net"})
    assert server_urls(tmp_path, raw) == {"https://api.example.net:6443"}


def test_a_lone_server_is_joined_directly_even_with_haproxy(tmp_path: Path) -> None:
    assert server_urls(tmp_path, cluster(servers=1)) == {"https://192.0.2.101:6443"}


def test_the_first_server_starts_the_etcd_cluster(tmp_path: Path) -> None:
    found = entries(tmp_path, cluster(servers=3), "k3s-control")
    assert (found["cluster-init"], found["tls-san"], "server" in found) == (True, ["192.0.2.121"], False)


def test_the_other_servers_join_at_the_registration_address(tmp_path: Path) -> None:
    found = entries(tmp_path, cluster(servers=3), "k3s-control-3")
    assert (found["server"], found["tls-san"], "cluster-init" in found) == \
        ("https://192.0.2.121:6443", ["192.0.2.121"], False)


def test_servers_behind_haproxy_answer_its_anonymous_readyz_check(tmp_path: Path) -> None:
    assert entries(tmp_path, cluster(servers=3), "k3s-control-2")["kube-apiserver-arg"] == ["anonymous-auth=true"]
    assert "kube-apiserver-arg" not in entries(tmp_path, cluster(servers=3, haproxy=False), "k3s-control-2")


def test_an_operators_apiserver_args_are_kept_next_to_the_check_arg(tmp_path: Path) -> None:
    raw = cluster(servers=3, data={"k3s_config": {"kube-apiserver-arg": ["audit-log-maxage=30"]}})
    assert entries(tmp_path, raw, "k3s-control")["kube-apiserver-arg"] == ["anonymous-auth=true", "audit-log-maxage=30"]


def test_agents_of_an_ha_cluster_join_through_haproxy(tmp_path: Path) -> None:
    assert entries(tmp_path, cluster(servers=3), "k3s-worker-1")["server"] == "https://192.0.2.121:6443"


def test_a_lone_server_keeps_todays_config(tmp_path: Path) -> None:
    assert entries(tmp_path, cluster(servers=1), "k3s-control") == \
        {"node-name": "k3s-control", "node-ip": "192.0.2.101", "token-file": "/etc/rancher/k3s/token"}


def test_cluster_init_is_the_deploys_own(tmp_path: Path) -> None:
    raw = cluster(servers=3, data={"k3s_config": {"cluster-init": False}})
    with pytest.raises(Exception, match="field k3s_config.cluster-init: is set by the deploy"):
        entries(tmp_path, raw, "k3s-control")
