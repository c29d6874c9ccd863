"""HAProxy runs a valid config and sees every Rancher backend server UP."""

import pytest

from facts.names import HAPROXY_CONFIG, HAPROXY_SERVICE
from facts.names import RANCHER_BACKEND as BACKEND
from verify.haproxy_stats import first_error, server_states, servers_not_up


@pytest.fixture(scope="module")
def rancher_servers(haproxy_node, gathered):
    view = gathered.of(haproxy_node).facts["haproxy"]
    if view["show_stat_error"]:
        pytest.fail(
            f"cannot read HAProxy stats on {haproxy_node.name} ({view['show_stat_error']}): "
            "is haproxy running with its stats socket?"
        )
    return server_states(view["show_stat"], BACKEND)


def test_haproxy_is_active(haproxy_node, gathered):
    state = gathered.of(haproxy_node).unit(HAPROXY_SERVICE, "ActiveState")
    assert state == "active", f"haproxy is {state} on {haproxy_node.name}: systemctl start haproxy; journalctl -u haproxy"


def test_haproxy_config_is_valid(haproxy_node, gathered):
    view = gathered.of(haproxy_node).facts["haproxy"]
    assert view["check_rc"] == 0, (
        f"{HAPROXY_CONFIG} on {haproxy_node.name} is invalid ({first_error(view['check_output'])}): re-run the deploy"
    )


def test_rancher_backend_has_servers(haproxy_node, rancher_servers):
    assert rancher_servers != {}, f"{BACKEND} on {haproxy_node.name} has no servers: check the haproxy group's config"


def test_rancher_backend_servers_are_up(haproxy_node, rancher_servers):
    down = servers_not_up(rancher_servers)
    assert down == {}, (
        f"{BACKEND} servers not UP on {haproxy_node.name}: {down}; check those nodes' svclb pods and that they are Ready"
    )
