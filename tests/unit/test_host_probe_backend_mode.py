"""verify's probe pings the servers of Rancher's backend the way HAProxy talks to them: over HTTP when
HAProxy ends TLS (``rancher.tls: external``), over HTTPS when TLS passes through; read from the
rendered haproxy.cfg."""

from __future__ import annotations

from pathlib import Path

import pytest

from facts.names import RANCHER_BACKEND
from tasks.haproxy import BackendServer, render_haproxy_cfg
from verify import host_probe

FIXTURES = Path(__file__).parent / "fixtures"
HOSTNAME = "rancher.example.net"


def config(tmp_path: Path, cert_file: str | None) -> str:
    """The rendered haproxy.cfg on disk, as the probe reads the live one."""
    path = tmp_path / "haproxy.cfg"
    path.write_text(render_haproxy_cfg(hostname=HOSTNAME, servers=[BackendServer("k3s-control", "127.0.0.2")],
                                       backend_port=80 if cert_file else 443, check_inter="2s", check_fall=2,
                                       check_rise=3, stats_port=8404, cert_file=cert_file))
    return str(path)


@pytest.mark.parametrize("cert_file,mode", [(None, "tcp"), ("/etc/haproxy/certs/rancher.pem", "http")])
def test_the_backends_mode_is_read_from_its_own_section(tmp_path, cert_file, mode):
    # the external config's frontend says mode http too, the passthrough's http frontend as well
    assert host_probe.backend_mode(config(tmp_path, cert_file), RANCHER_BACKEND) == mode


def test_a_backend_the_config_lacks_is_tcp(tmp_path):
    assert host_probe.backend_mode(config(tmp_path, "/etc/haproxy/certs/rancher.pem"), "backend_other") == "tcp"


@pytest.mark.parametrize("cert_file,scheme", [(None, "https"), ("/etc/haproxy/certs/rancher.pem", "http")])
def test_every_server_is_pinged_in_the_backends_scheme(tmp_path, monkeypatch, cert_file, scheme):
    pings: list[tuple] = []

    def answer(*arguments: str) -> dict:
        pings.append(arguments)
        return {"body": "pong", "error": ""}

    monkeypatch.setattr(host_probe, "run", lambda *command: (0, "Configuration file is valid\n", ""))
    monkeypatch.setattr(host_probe, "show_stat",
                        lambda _: (FIXTURES / "haproxy_show_stat_checked.csv").read_text())
    monkeypatch.setattr(host_probe, "ping_result", answer)
    host_probe.haproxy_view({"config": config(tmp_path, cert_file), "backend": RANCHER_BACKEND, "hostname": HOSTNAME})
    assert pings == [("127.0.0.2", "18443", HOSTNAME, scheme), ("127.0.0.2", "18445", HOSTNAME, scheme)]
