"""The rendered haproxy.cfg: what it routes, and that HAProxy itself accepts or rejects it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tasks.haproxy import BackendServer, render_haproxy_cfg

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
needs_haproxy = pytest.mark.skipif(not Path(HAPROXY).exists(), reason="haproxy is not installed")
NODES = [
    BackendServer("k3s-control", "10.213.0.101"),
    BackendServer("k3s-worker-1", "10.213.0.111"),
    BackendServer("k3s-worker-2", "10.213.0.112"),
]


def render(backend_port: object = 443, check_inter: object = "2s") -> str:
    return render_haproxy_cfg(
        hostname="rancher.example.net",
        servers=NODES,
        backend_port=backend_port,
        check_inter=check_inter,
        check_fall=2,
        check_rise=3,
        stats_port=8404,
    )


def haproxy_check(config: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    return subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)


def test_backend_lists_every_k3s_node_on_the_backend_port():
    servers = [line.split()[1:3] for line in render(30443).splitlines() if line.strip().startswith("server ")]
    assert servers == [["k3s-control", "10.213.0.101:30443"], ["k3s-worker-1", "10.213.0.111:30443"],
                       ["k3s-worker-2", "10.213.0.112:30443"]]


def test_servers_have_active_checks_with_the_inventory_pace():
    assert "default-server check check-ssl verify none check-sni rancher.example.net inter 2s fall 2 rise 3" in render()


def test_health_check_expects_pong_from_ping():
    assert "http-check expect string pong" in render()


def test_https_frontend_routes_the_sni_name_to_backend_rancher():
    assert "use_backend backend_rancher if { req_ssl_sni -i rancher.example.net }" in render()


def test_http_frontend_redirects_to_https():
    assert "http-request redirect scheme https code 301" in render()


def test_failed_connections_are_redispatched_to_another_node():
    assert ("retries 2", "option redispatch 1") == tuple(
        line.strip() for line in render().splitlines() if line.strip() in ("retries 2", "option redispatch 1"))


def test_stats_socket_has_admin_level():
    assert "stats socket /run/haproxy/admin.sock mode 660 level admin" in render()


def test_stats_page_listens_on_loopback_only():
    assert "bind 127.0.0.1:8404" in render()


@needs_haproxy
def test_haproxy_accepts_the_rendered_config(tmp_path):
    assert haproxy_check(render(), tmp_path).returncode == 0


@needs_haproxy
def test_haproxy_rejects_an_invalid_port_naming_the_server(tmp_path):
    result = haproxy_check(render(backend_port=70000), tmp_path)
    assert (result.returncode, "'server backend_rancher/k3s-control' : invalid port '70000'" in result.stderr) == (1, True)


@needs_haproxy
def test_haproxy_rejects_a_bad_check_interval(tmp_path):
    assert haproxy_check(render(check_inter="2x"), tmp_path).returncode == 1
