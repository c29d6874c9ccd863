"""kube-apiserver's health endpoints and anonymous requests as real k3s serves them: 401 without
credentials (k3s runs kube-apiserver with anonymous-auth=false), with kube-apiserver-arg
anonymous-auth=true only /healthz /livez /readyz /version for system:anonymous (403 elsewhere);
the `etcd` and `etcd-readiness` checks on a sqlite server (kine) and on embedded etcd, failing
when etcd has no quorum. The HA tests run in file order on one three-server cluster whose servers
take anonymous-auth=true, as the deploy writes it for HAProxy's anonymous /readyz check.
"""

from __future__ import annotations

import json
import shutil
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from conftest import Server, admin_context
from ha_servers import HaServer, running_cluster

NAMES = ("health-a", "health-b", "health-c")
ANONYMOUS_AUTH = "--kube-apiserver-arg=anonymous-auth=true"
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
HOOKS = ("[+]poststarthook/start-system-namespaces-controller ok\n"
         "[+]poststarthook/bootstrap-controller ok\n")
READYZ_PASSED = ("[+]ping ok\n[+]log ok\n[+]etcd ok\n[+]etcd-readiness ok\n" + HOOKS
                 + "[+]shutdown ok\nreadyz check passed\n")
# two checks of 2 s each, then the answer
QUORUMLESS_SECONDS = 15

needs_etcd = pytest.mark.skipif(shutil.which("etcd") is None, reason="needs Debian's etcd-server")


def get(url: str, context: ssl.SSLContext, timeout: float = 10) -> tuple[int, str]:
    """Status and body of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def anonymous(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


def ha_ca(server: HaServer) -> str:
    return str(server.data_dir / "server" / "tls" / "server-ca.crt")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HaServer]]:
    with running_cluster(tmp_path_factory.mktemp("k3s-health"), NAMES, [ANONYMOUS_AUTH]) as started:
        yield started


# a sqlite server, anonymous-auth as k3s sets it (false)

@pytest.mark.parametrize("path", ["/readyz", "/livez", "/healthz", "/version", "/api/v1/nodes"])
def test_without_credentials_kube_apiserver_paths_are_401(k3s_server: Server, path: str) -> None:
    code, body = get(f"{k3s_server.url}{path}", anonymous(k3s_server.ca_file))
    assert (code, json.loads(body)) == (401, UNAUTHORIZED)


@pytest.mark.parametrize("path, expected", [("/ping", "pong"), ("/cacerts", "-----BEGIN CERTIFICATE-----")])
def test_k3s_own_handlers_answer_without_credentials(k3s_server: Server, path: str, expected: str) -> None:
    code, body = get(f"{k3s_server.url}{path}", anonymous(k3s_server.ca_file))
    assert (code, body[:len(expected)]) == (200, expected)


def test_readyz_answers_ok_with_credentials(k3s_server: Server) -> None:
    assert get(f"{k3s_server.url}/readyz", admin_context(k3s_server.data_dir)) == (200, "ok")


def test_a_sqlite_servers_readyz_verbose_shows_the_etcd_checks_of_kine(k3s_server: Server) -> None:
    assert get(f"{k3s_server.url}/readyz?verbose", admin_context(k3s_server.data_dir)) == (200, READYZ_PASSED)


def test_livez_verbose_has_the_etcd_check_but_not_etcd_readiness(k3s_server: Server) -> None:
    assert get(f"{k3s_server.url}/livez?verbose", admin_context(k3s_server.data_dir)) == \
        (200, "[+]ping ok\n[+]log ok\n[+]etcd ok\n" + HOOKS + "livez check passed\n")


def test_an_excluded_check_is_listed_as_excluded(k3s_server: Server) -> None:
    code, body = get(f"{k3s_server.url}/readyz?verbose&exclude=etcd&exclude=nothing",
                     admin_context(k3s_server.data_dir))
    assert (code, "[+]etcd excluded: ok\n" in body,
            'warn: some health checks cannot be excluded: no matches for "nothing"\n' in body) == (200, True, True)


def test_one_check_has_its_own_path(k3s_server: Server) -> None:
    assert get(f"{k3s_server.url}/readyz/etcd", admin_context(k3s_server.data_dir)) == (200, "ok")


# three servers on embedded etcd with anonymous-auth=true

@needs_etcd
def test_anonymous_readyz_is_ok_with_anonymous_auth(servers: list[HaServer]) -> None:
    assert get(f"{servers[0].url}/readyz", anonymous(ha_ca(servers[0]))) == (200, "ok")


@needs_etcd
def test_anonymous_version_is_the_k3s_release_with_anonymous_auth(servers: list[HaServer]) -> None:
    code, body = get(f"{servers[0].url}/version", anonymous(ha_ca(servers[0])))
    assert (code, json.loads(body)["gitVersion"]) == (200, "v1.31.4+k3s1")


@needs_etcd
@pytest.mark.parametrize("path, message, details", [
    ("/api", 'forbidden: User "system:anonymous" cannot get path "/api"', {}),
    ("/readyz/etcd", 'forbidden: User "system:anonymous" cannot get path "/readyz/etcd"', {}),
    ("/api/v1/nodes", 'nodes is forbidden: User "system:anonymous" cannot list resource "nodes" in API group "" '
     "at the cluster scope", {"kind": "nodes"}),
    ("/apis/apps/v1/namespaces/default/deployments/web", 'deployments.apps "web" is forbidden: User '
     '"system:anonymous" cannot get resource "deployments" in API group "apps" in the namespace "default"',
     {"name": "web", "group": "apps", "kind": "deployments"}),
])
def test_anonymous_requests_elsewhere_are_403_forbidden(servers: list[HaServer], path: str, message: str,
                                                        details: dict) -> None:
    code, body = get(f"{servers[0].url}{path}", anonymous(ha_ca(servers[0])))
    assert (code, json.loads(body)) == (403, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                              "status": "Failure", "message": message, "reason": "Forbidden",
                                              "details": details, "code": 403})


@needs_etcd
def test_a_supervisor_route_without_credentials_is_k3s_forbidden(servers: list[HaServer]) -> None:
    code, body = get(f"{servers[0].url}/v1-k3s/server-bootstrap", anonymous(ha_ca(servers[0])))
    assert (code, json.loads(body)["message"]) == (403, "forbidden")


@needs_etcd
def test_the_etcd_members_answer_a_local_client_without_credentials(servers: list[HaServer]) -> None:
    code, body = get(f"{servers[0].url}/db/info", anonymous(ha_ca(servers[0])))
    assert (code, len(json.loads(body)["members"])) == (200, len(NAMES))


@needs_etcd
def test_readyz_verbose_on_healthy_etcd_shows_both_etcd_checks_ok(servers: list[HaServer]) -> None:
    assert get(f"{servers[1].url}/readyz?verbose", admin_context(servers[1].data_dir)) == (200, READYZ_PASSED)


@needs_etcd
def test_without_quorum_anonymous_readyz_is_500_with_both_etcd_checks_failed(servers: list[HaServer]) -> None:
    servers[0].stop()
    servers[1].stop()
    assert get(f"{servers[2].url}/readyz", anonymous(ha_ca(servers[2])), QUORUMLESS_SECONDS) == \
        (500, "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n[-]etcd-readiness failed: reason withheld\n"
         + HOOKS + "[+]shutdown ok\nreadyz check failed\n")


@needs_etcd
def test_without_quorum_livez_is_500_with_the_etcd_check_failed(servers: list[HaServer]) -> None:
    assert get(f"{servers[2].url}/livez", anonymous(ha_ca(servers[2])), QUORUMLESS_SECONDS) == \
        (500, "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n" + HOOKS + "livez check failed\n")


@needs_etcd
def test_without_quorum_the_etcd_checks_path_names_the_deadline(servers: list[HaServer]) -> None:
    assert get(f"{servers[2].url}/readyz/etcd", admin_context(servers[2].data_dir), QUORUMLESS_SECONDS) == \
        (500, "internal server error: error getting data from etcd: context deadline exceeded\n")


@needs_etcd
def test_without_quorum_readyz_excluding_the_etcd_checks_passes(servers: list[HaServer]) -> None:
    assert get(f"{servers[2].url}/readyz?exclude=etcd&exclude=etcd-readiness", anonymous(ha_ca(servers[2]))) == \
        (200, "ok")


@needs_etcd
def test_with_quorum_back_readyz_is_ok_again(servers: list[HaServer]) -> None:
    servers[0].launch()
    servers[1].launch()
    for server in servers:
        server.wait_ready(timeout=90)
    assert get(f"{servers[2].url}/readyz", anonymous(ha_ca(servers[2]))) == (200, "ok")
