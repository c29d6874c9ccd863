"""HAProxy runs a valid config and sees every Rancher backend server UP."""

import pytest

from facts.names import HAPROXY_SERVICE, RANCHER_BACKEND
from verify.haproxy_stats import HAPROXY_CONFIG, SHOW_STAT, first_error, server_states, servers_not_up
from verify.units import unit_property


@pytest.fixture(scope="module")
def rancher_servers(haproxy_node):
    show_stat = haproxy_node.host.run(SHOW_STAT)
    if show_stat.rc != 0:
        pytest.fail(
            f"cannot read HAProxy stats on {haproxy_node.name} ({first_error(show_stat.stderr)}): "
            "is haproxy running with its stats socket?"
        )
    return server_states(show_stat.stdout, RANCHER_BACKEND)


def test_haproxy_is_active(haproxy_node):
    state = unit_property(haproxy_node.host, HAPROXY_SERVICE, "ActiveState")
    assert state == "active", f"haproxy is {state} on {haproxy_node.name}: systemctl start haproxy; journalctl -u haproxy"


def test_haproxy_config_is_valid(haproxy_node):
    check = haproxy_node.host.run("haproxy -c -f %s", HAPROXY_CONFIG)
    assert check.rc == 0, (
        f"{HAPROXY_CONFIG} on {haproxy_node.name} is invalid ({first_error(check.stderr + check.stdout)}): re-run the deploy"
    )


def test_rancher_backend_has_servers(haproxy_node, rancher_servers):
    assert rancher_servers != {}, f"{RANCHER_BACKEND} on {haproxy_node.name} has no servers: check the haproxy group's config"


def test_rancher_backend_servers_are_up(haproxy_node, rancher_servers):
    down = servers_not_up(rancher_servers)
    assert down == {}, (
        f"{RANCHER_BACKEND} servers not UP on {haproxy_node.name}: {down}; check those nodes' svclb pods and that they are Ready"
    )
