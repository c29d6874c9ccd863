"""The rendered haproxy.cfg: what it routes, and that HAProxy itself accepts or rejects it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tasks.haproxy import BackendServer, render_haproxy_cfg
from tests.unit.certificates import CertificateAuthority

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
needs_haproxy = pytest.mark.skipif(not Path(HAPROXY).exists(), reason="haproxy is not installed")
NODES = [
    BackendServer("k3s-control", "10.213.0.101"),
    BackendServer("k3s-worker-1", "10.213.0.111"),
    BackendServer("k3s-worker-2", "10.213.0.112"),
]


def render(backend_port: object = 443, check_inter: object = "2s", cert_file: str | None = None) -> str:
    return render_haproxy_cfg(
        cert_file=cert_file,
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


# The passthrough config's directives (comments aside) as they were before issue 15's external mode.
PASSTHROUGH = """\
global
log /dev/log local0
log /dev/log local1 notice
chroot /var/lib/haproxy
stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners
stats timeout 30s
user haproxy
group haproxy
daemon
defaults
log global
option dontlognull
retries 2
option redispatch 1
timeout connect 3s
timeout client 1h
timeout server 1h
timeout tunnel 1h
frontend rancher_https
bind :443
mode tcp
option tcplog
tcp-request inspect-delay 5s
tcp-request content accept if { req_ssl_hello_type 1 }
use_backend backend_rancher if { req_ssl_sni -i rancher.example.net }
frontend rancher_http
bind :80
mode http
option httplog
http-request redirect scheme https code 301
frontend stats
bind 127.0.0.1:8404
mode http
stats enable
stats uri /stats
stats refresh 10s
backend backend_rancher
mode tcp
balance roundrobin
option httpchk
http-check send meth GET uri /ping ver HTTP/1.1 hdr Host rancher.example.net
http-check expect string pong
default-server check check-ssl verify none check-sni rancher.example.net inter 2s fall 2 rise 3
server k3s-control 10.213.0.101:443
server k3s-worker-1 10.213.0.111:443
server k3s-worker-2 10.213.0.112:443"""


def directives(config: str) -> str:
    return "\n".join(line.strip() for line in config.splitlines() if line.strip() and not line.strip().startswith("#"))


def section(config: str, name: str) -> list[str]:
    """The directive lines of one section (``frontend rancher_https``, ``backend backend_rancher``)."""
    lines = directives(config).splitlines()
    start = lines.index(name)
    end = next((index for index in range(start + 1, len(lines))
                if lines[index].startswith(("frontend ", "backend ", "global", "defaults"))), len(lines))
    return lines[start + 1:end]


@pytest.fixture(scope="module")
def pem_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What tasks/haproxy.py writes for rancher.tls external: the certificate chain, then its key."""
    directory = tmp_path_factory.mktemp("tls")
    leaf = CertificateAuthority(directory / "ca").issue(["rancher.example.net"])
    path = directory / "rancher.pem"
    path.write_text(leaf.cert + leaf.key)
    return path


def test_passthrough_is_unchanged_by_the_external_mode():
    assert directives(render()) == PASSTHROUGH


def test_external_mode_ends_tls_with_the_certificate_and_forwards_the_scheme(pem_file):
    assert section(render(80, cert_file=str(pem_file)), "frontend rancher_https") == [
        f"bind :443 ssl crt {pem_file}", "mode http", "option httplog", "option forwardfor",
        "http-request set-header X-Forwarded-Proto https", "http-request set-header X-Forwarded-Port 443",
        "use_backend backend_rancher if { ssl_fc_sni -i rancher.example.net }"]


def test_external_mode_checks_plain_http_on_traefiks_http_port(pem_file):
    assert section(render(80, cert_file=str(pem_file)), "backend backend_rancher") == [
        "mode http", "balance roundrobin", "option httpchk",
        "http-check send meth GET uri /ping ver HTTP/1.1 hdr Host rancher.example.net", "http-check expect string pong",
        "default-server check inter 2s fall 2 rise 3", "server k3s-control 10.213.0.101:80",
        "server k3s-worker-1 10.213.0.111:80", "server k3s-worker-2 10.213.0.112:80"]


@needs_haproxy
def test_haproxy_accepts_the_external_mode_config_with_a_real_certificate(pem_file, tmp_path):
    result = haproxy_check(render(80, cert_file=str(pem_file)), tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


@needs_haproxy
def test_haproxy_rejects_a_certificate_file_without_its_key(pem_file, tmp_path):
    lone = tmp_path / "cert-only.pem"
    lone.write_text(pem_file.read_text().split("-----BEGIN PRIVATE KEY-----")[0])
    result = haproxy_check(render(80, cert_file=str(lone)), tmp_path)
    assert (result.returncode, str(lone) in result.stderr) == (1, True)
