"""The serving certificate names what clients dial (pure logic)."""

from __future__ import annotations

from k3s_standin.certs import serving_sans, token_password
from k3s_standin.options import parse


def test_serving_certificate_covers_node_ip_service_ip_and_tls_san(tmp_path):
    options = parse("server", ["-c", str(tmp_path / "none.yaml"), "--node-ip", "10.213.0.101",
                               "--tls-san", "rancher.example.net,192.0.2.7"], environ={})
    sans = serving_sans(options, "10.213.0.101").split(",")
    assert {"IP:10.213.0.101", "IP:10.43.0.1", "IP:127.0.0.1", "DNS:rancher.example.net",
            "IP:192.0.2.7", "DNS:kubernetes.default.svc"} <= set(sans)


def test_token_password_accepts_full_and_bare_tokens():
    assert (token_password("K10abc::server:s3cret"), token_password("s3cret")) == ("s3cret", "s3cret")
