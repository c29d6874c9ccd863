"""HAProxy in front of several k3s servers' API: a TCP frontend on 6443, /readyz checks, accepted
by HAProxy itself; a lone server's config has none of it."""

from __future__ import annotations

from pathlib import Path

from tasks.haproxy import BackendServer, render_haproxy_cfg
from tests.unit.test_haproxy_config import haproxy_check, needs_haproxy

SERVERS = [BackendServer(f"k3s-control-{index}", f"10.213.0.10{index}") for index in (1, 2, 3)]


def render(api_servers: list[BackendServer] | None) -> str:
    return render_haproxy_cfg(hostname="rancher.example.net", servers=SERVERS, backend_port=443, check_inter="2s",
                              check_fall=2, check_rise=2, stats_port=8404, api_servers=api_servers)


def backend(config: str, name: str) -> list[str]:
    lines = config.splitlines()
    start = lines.index(f"backend {name}")
    end = next((index for index in range(start + 1, len(lines)) if not lines[index].startswith(" ")), len(lines))
    return [line.strip() for line in lines[start + 1:end]]


def test_the_api_backend_lists_every_server_on_6443():
    servers = [line.split()[1:3] for line in backend(render(SERVERS), "backend_k3s_api") if line.startswith("server ")]
    assert servers == [["k3s-control-1", "10.213.0.101:6443"], ["k3s-control-2", "10.213.0.102:6443"],
                       ["k3s-control-3", "10.213.0.103:6443"]]


def test_the_api_servers_are_checked_with_an_https_readyz():
    lines = backend(render(SERVERS), "backend_k3s_api")
    assert {"mode tcp", "option httpchk", "http-check send meth GET uri /readyz", "http-check expect status 200",
            "default-server check check-ssl verify none inter 2s fall 2 rise 2"} <= set(lines)


def test_the_api_frontend_passes_6443_through():
    assert "frontend k3s_api\n    bind :6443\n    mode tcp" in render(SERVERS)


def test_a_lone_server_gets_no_api_frontend():
    assert "6443" not in render(None) and "k3s_api" not in render([])


@needs_haproxy
def test_haproxy_accepts_the_config_with_the_api_frontend(tmp_path: Path):
    checked = haproxy_check(render(SERVERS), tmp_path)
    assert checked.returncode == 0, checked.stderr
