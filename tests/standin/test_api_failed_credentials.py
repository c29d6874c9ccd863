"""Credentials that fail are 401 Unauthorized, never anonymous, as kube-apiserver answers them: a client
certificate the client CA did not sign completes the TLS handshake (Go's tls.RequestClientCert,
verification left to the x509 authenticator) and is refused by the authenticator; a wrong bearer
token likewise; with anonymous-auth=true too (an authentication error is never anonymous).

kubectl sends its certificate whatever CAs the server names as acceptable, and prints the 401 in one of
two ways: from its discovery request when it has no discovery cache (its discovery client keeps the
unstructured error: "the server has asked for the client to provide credentials"), or from the
request itself, whose Status it decodes ("Unauthorized").
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import KUBECTL, Server, free_port, start_server, stop_server

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
KUBECTL_UNAUTHORIZED = "error: You must be logged in to the server (Unauthorized)"
KUBECTL_DISCOVERY_UNAUTHORIZED = ("error: You must be logged in to the server (the server has asked for the client "
                                  "to provide credentials)")


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certificate, key) of a self-signed client certificate claiming to be system:admin."""
    directory = tmp_path_factory.mktemp("self-signed")
    cert, key = directory / "client.crt", directory / "client.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-subj", "/O=system:masters/CN=system:admin", "-days", "1",
                    "-addext", "extendedKeyUsage=clientAuth", "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def anonymous_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("k3s-anonymous"), free_port(),
                          ["--kube-apiserver-arg=anonymous-auth=true"])
    yield server
    stop_server(server)


def kubectl_as(server: Server, user: dict[str, str], directory: Path, *args: str) -> subprocess.CompletedProcess:
    """The real kubectl with a kubeconfig trusting the server's CA, as `user` (kubeconfig user
    fields), its discovery cache in `directory`."""
    kubeconfig = directory / "kubeconfig.yaml"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "k3s",
        "clusters": [{"name": "k3s", "cluster": {"server": server.url, "certificate-authority": server.ca_file}}],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "k3s", "context": {"cluster": "k3s", "user": "user"}}]}))
    return subprocess.run([KUBECTL, "--cache-dir", str(directory / "cache"), *args],
                          env={**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(directory)},
                          capture_output=True, text=True, timeout=30, check=False)


def certificate_user(client: tuple[Path, Path]) -> dict[str, str]:
    return {"client-certificate": str(client[0]), "client-key": str(client[1])}


def admin_user(server: Server) -> dict[str, str]:
    tls = server.data_dir / "server" / "tls"
    return certificate_user((tls / "client-admin.crt", tls / "client-admin.key"))


def last_line(result: subprocess.CompletedProcess) -> tuple[int, str]:
    return result.returncode, (result.stderr.strip().splitlines() or [""])[-1]


def openssl_get(server: Server, client: tuple[Path, Path], path: str,
                headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """Status and JSON body of a GET through Python's (OpenSSL's) TLS, which sends its certificate
    whatever CAs the server names as acceptable."""
    context = ssl.create_default_context(cafile=server.ca_file)
    context.load_cert_chain(str(client[0]), str(client[1]))
    request = urllib.request.Request(f"{server.url}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_kubectl_with_a_self_signed_certificate_is_told_to_log_in(k3s_server: Server, self_signed: tuple[Path, Path],
                                                                 tmp_path: Path) -> None:
    kubectl_as(k3s_server, admin_user(k3s_server), tmp_path, "get", "namespaces")  # fills the discovery cache
    result = kubectl_as(k3s_server, certificate_user(self_signed), tmp_path, "get", "namespaces")
    assert last_line(result) == (1, KUBECTL_UNAUTHORIZED)


def test_kubectl_without_discovery_cache_is_told_to_log_in_by_discovery(k3s_server: Server,
                                                                        self_signed: tuple[Path, Path],
                                                                        tmp_path: Path) -> None:
    result = kubectl_as(k3s_server, certificate_user(self_signed), tmp_path, "get", "namespaces")
    assert last_line(result) == (1, KUBECTL_DISCOVERY_UNAUTHORIZED)


def test_a_self_signed_certificate_completes_the_handshake_and_is_401(k3s_server: Server,
                                                                      self_signed: tuple[Path, Path]) -> None:
    assert openssl_get(k3s_server, self_signed, "/api/v1/namespaces") == (401, UNAUTHORIZED)


def test_a_valid_bearer_token_admits_despite_the_unknown_certificate(k3s_server: Server,
                                                                     self_signed: tuple[Path, Path]) -> None:
    code, _ = openssl_get(k3s_server, self_signed, "/api/v1/namespaces",
                          {"Authorization": f"Bearer {k3s_server.node_token}"})
    assert code == 200


def test_kubectl_with_a_self_signed_certificate_is_401_with_anonymous_auth_on(
        anonymous_server: Server, self_signed: tuple[Path, Path], tmp_path: Path) -> None:
    kubectl_as(anonymous_server, admin_user(anonymous_server), tmp_path, "get", "namespaces")
    result = kubectl_as(anonymous_server, certificate_user(self_signed), tmp_path, "get", "namespaces")
    assert last_line(result) == (1, KUBECTL_UNAUTHORIZED)


def test_a_self_signed_certificate_is_401_on_readyz_with_anonymous_auth_on(anonymous_server: Server,
                                                                           self_signed: tuple[Path, Path]) -> None:
    assert openssl_get(anonymous_server, self_signed, "/readyz") == (401, UNAUTHORIZED)


def test_readyz_without_a_certificate_is_anonymous_with_anonymous_auth_on(anonymous_server: Server) -> None:
    with urllib.request.urlopen(f"{anonymous_server.url}/readyz", timeout=10,
                                context=ssl.create_default_context(cafile=anonymous_server.ca_file)) as answer:
        assert (answer.status, answer.read()) == (200, b"ok")


def test_a_wrong_bearer_token_is_401_on_readyz_with_anonymous_auth_on(anonymous_server: Server) -> None:
    request = urllib.request.Request(f"{anonymous_server.url}/readyz", headers={"Authorization": "Bearer wrong"})
    try:
        urllib.request.urlopen(request, timeout=10, context=ssl.create_default_context(cafile=anonymous_server.ca_file))
    except urllib.error.HTTPError as error:
        assert (error.code, json.loads(error.read())) == (401, UNAUTHORIZED)
    else:
        pytest.fail("/readyz answered a wrong bearer token")
