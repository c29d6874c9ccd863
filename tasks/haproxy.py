"""
HAProxy in front of Rancher: a config that is checked before it goes live, reloaded only
on change, and a deploy that waits until the critical backends' servers are UP.

Host data: ``rancher_hostname`` and the ``haproxy_*`` keys of ``tasks.settings``. They go into
the config as written, on purpose: ``haproxy -c`` judges the rendered config and its own message
is what the run fails with. A dead node leaves the rotation within check inter x fall.

Servers are every host of ``k3s_control`` and ``k3s_workers``, named by ``node_name`` and
reached at ``node_ip``, on Traefik's port there: ``haproxy_backend_port`` (HTTPS, passed through by
SNI), or ``haproxy_backend_http_port`` with ``rancher.tls: external``, where HAProxy ends TLS with the
secrets ``rancher_tls_cert``/``rancher_tls_key`` (``CERT_FILE``, 0600).

With several k3s servers, HAProxy is their registration address (docs.k3s.io/datastore/
cluster-loadbalancer): a TCP frontend on 6443 passes the API through to every server, each checked
with an HTTPS ``GET /readyz``. The config goes live before k3s starts, since joining servers and
agents register through it; a lone server's config has no API frontend (its agents join it directly).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pyinfra import host, inventory
from pyinfra.api import FunctionCommand, deploy, operation
from pyinfra.api.exceptions import PyinfraError

from facts import read_ahead
from facts.haproxy import STATS_SOCKET, HaproxyServerStats, servers_not_up
from facts.managed_state import Managed, changing, managed, managing
from facts.names import API_BACKEND, HAPROXY_CONFIG, HAPROXY_SERVICE, RANCHER_BACKEND
from facts.systemctl_show import first
from inventory_schema.control_plane import API_PORT
from tasks import render, wait_until
from tasks.apt_packages import packages_installed
from tasks.control_plane import api_behind_haproxy, servers
from tasks.desired_files import DesiredFile, desired_files, text_file
from tasks.rancher_tls import tls_material
from tasks.settings import InvalidField, value

CERT_FILE = "/etc/haproxy/certs/rancher.pem"
STATS_AHEAD = "haproxy-stats"


def ends_tls() -> bool:
    """Whether HAProxy ends TLS for Rancher (``rancher.tls: external``)."""
    rancher = value("rancher")
    return isinstance(rancher, dict) and rancher.get("tls") == "external"


def backend_port() -> object:
    return value("haproxy_backend_http_port" if ends_tls() else "haproxy_backend_port")


def certificate_file(hostname: str) -> DesiredFile:
    """The certificate chain and key HAProxy serves, validated first (``tasks.rancher_tls``)."""
    try:
        material = tls_material("external", hostname, host.data.dict())
    except InvalidField as error:
        raise PyinfraError(f"haproxy: host {host.name}: {error}") from None
    assert material is not None
    return text_file(CERT_FILE, material.cert + material.key, mode="600", secret=True)


@dataclass(frozen=True)
class BackendServer:
    name: str
    ip: str


def render_haproxy_cfg(
    hostname: str,
    servers: list[BackendServer],
    backend_port: object,
    check_inter: object,
    check_fall: object,
    check_rise: object,
    stats_port: object,
    stats_socket: str = STATS_SOCKET,
    cert_file: str | None = None,
    api_servers: list[BackendServer] | None = None,
) -> str:
    """Render ``tasks/templates/haproxy.cfg.j2``; values go in as written so HAProxy judges them.
    With ``cert_file`` (``rancher.tls: external``) TLS ends here and the backend speaks HTTP. With
    ``api_servers`` (several k3s servers) a TCP frontend on 6443 passes the API through to them."""
    return render(
        "haproxy.cfg.j2",
        api_servers=api_servers or [],
        api_port=API_PORT,
        api_backend=API_BACKEND,
        cert_file=cert_file,
        hostname=hostname,
        servers=servers,
        backend_port=backend_port,
        check_inter=check_inter,
        check_fall=check_fall,
        check_rise=check_rise,
        stats_port=stats_port,
        stats_socket=stats_socket,
        rancher_backend=RANCHER_BACKEND,
    )


def api_servers() -> list[BackendServer]:
    """The k3s servers whose API HAProxy carries: all of them when there are several, else none
    (a lone server is its agents' registration address itself; tasks/control_plane.py)."""
    if not api_behind_haproxy():
        return []
    return [BackendServer(node.data.node_name, node.data.node_ip) for node in servers()]


def k3s_node_servers() -> list[BackendServer]:
    """Every k3s node of the inventory, control plane first."""
    nodes = inventory.get_group("k3s_control", []) + inventory.get_group("k3s_workers", [])
    return [BackendServer(node.data.node_name, node.data.node_ip) for node in nodes]


# Only for critical_servers (another change rewrites it), which should call settings.value itself.
def _setting(key: str) -> Any:
    return value(key)


def haproxy_active() -> bool:
    return first(managed(units=[HAPROXY_SERVICE])["units"][HAPROXY_SERVICE], "ActiveState") == "active"


def reloaded() -> Iterator[str]:
    """A running HAProxy reloaded (``systemctl reload``: the master starts new workers and hands
    over the listeners, no connection is dropped); a stopped one is left to :func:`haproxy_running`."""
    if haproxy_active():
        changing(units=[HAPROXY_SERVICE])
        yield "systemctl reload haproxy"


@managing(lambda content, path=HAPROXY_CONFIG, **_: Managed(paths=[path], units=[HAPROXY_SERVICE]))
@operation()
def checked_config(content: str, path: str = HAPROXY_CONFIG):
    """
    Put ``content`` live at ``path`` only if ``haproxy -c`` accepts it, then reload.

    The file is staged beside the live one and moved over it in the same command that checks
    it (``tasks.desired_files``), so a config HAProxy rejects never goes live and the run fails
    with HAProxy's own message. A running HAProxy is reloaded (:func:`reloaded`).

    Example:

    .. code:: python

        checked_config(name="HAProxy config", content=render_haproxy_cfg(...))
    """
    commands = list(desired_files([text_file(path, content, check=("haproxy", "-c", "-f"))], f"{path} is up to date"))
    if not commands:
        return
    yield from commands
    yield from reloaded()


@managing(lambda certificate, **_: Managed(paths=[certificate.path], units=[HAPROXY_SERVICE]))
@operation()
def certificate_in_place(certificate: DesiredFile):
    """
    The PEM file HAProxy ends TLS with, 0600, uploaded from memory (it holds the key).

    Example:

    .. code:: python

        certificate_in_place(name="HAProxy's Rancher certificate", certificate=certificate_file(hostname))
    """
    commands = list(desired_files([certificate], f"{certificate.path} is up to date"))
    yield from commands
    if commands:
        yield from reloaded()


@managing(lambda **_: Managed(units=[HAPROXY_SERVICE]))
@operation()
def haproxy_running():
    """
    Start HAProxy unless systemd has it active, enable it unless enabled (what pyinfra's
    ``systemd.service(running=True, enabled=True)`` does, from the host's one read).

    Example:

    .. code:: python

        haproxy_running(name="HAProxy running and enabled")
    """
    properties = managed(units=[HAPROXY_SERVICE])["units"][HAPROXY_SERVICE]
    commands = ([f"systemctl start {HAPROXY_SERVICE}"] if first(properties, "ActiveState") != "active" else []) + \
        ([f"systemctl enable {HAPROXY_SERVICE}"] if first(properties, "UnitFileState") != "enabled" else [])
    if not commands:
        host.noop(f"{HAPROXY_SERVICE} is running and enabled")
        return
    changing(units=[HAPROXY_SERVICE])
    yield from commands


def wait_until_up(
    state, host, expected: dict[str, dict[str, str]], timeout: float, interval: float = 1.0
) -> bool:
    """Poll ``show stat`` (a FunctionCommand body) until the servers are UP or the deadline passes."""
    def problem() -> str:
        return "; ".join(servers_not_up(host.get_fact(HaproxyServerStats), expected))

    return wait_until(host, problem, timeout, interval, "haproxy: servers not UP")


@operation()
def servers_up(expected: dict[str, dict[str, str]], timeout: float, interval: float = 1.0):
    """
    Wait until every server of the given backends is UP in ``show stat``, else fail naming
    each server that is not with its ``check_status``/``last_chk``.

    + expected: backend -> {server: "ip:port"}; an empty mapping accepts any servers
    + timeout: seconds before giving up (a deadline, polled every ``interval`` seconds)

    Example:

    .. code:: python

        servers_up(
            name="Rancher servers UP",
            expected={"backend_rancher": {"k3s-control": "10.0.0.1:443"}},
            timeout=60,
        )
    """
    # read at the run's first read (facts.read_ahead) when critical_servers_up noted it; read now before waiting
    ahead = read_ahead.taken(host, STATS_AHEAD)
    up_ahead = ahead is not None and not servers_not_up(ahead, expected)
    if up_ahead or not servers_not_up(host.get_fact(HaproxyServerStats), expected):
        host.noop(f"all servers UP in {', '.join(expected)}")
        return
    yield FunctionCommand(wait_until_up, (expected, timeout, interval), {})


@deploy("HAProxy in front of Rancher and the API")
def haproxy() -> None:
    """Ensure HAProxy routes Rancher's hostname to every k3s node (and, for several servers, 6443
    to them), with a config it accepted, running; :func:`critical_servers_up` waits for the servers."""
    if "haproxy" not in host.groups:
        return

    hostname = value("rancher_hostname")
    if not hostname:
        raise PyinfraError(f"haproxy: host {host.name}: field rancher_hostname: missing")
    servers = k3s_node_servers()
    certificate = certificate_file(hostname) if ends_tls() else None
    content = render_haproxy_cfg(
        hostname=hostname,
        servers=servers,
        cert_file=certificate.path if certificate else None,
        backend_port=backend_port(),
        check_inter=value("haproxy_check_inter"),
        check_fall=value("haproxy_check_fall"),
        check_rise=value("haproxy_check_rise"),
        stats_port=value("haproxy_stats_port"),
        api_servers=api_servers(),
    )

    # python3 talks to the stats socket for the server status fact.
    packages_installed(name="HAProxy installed", packages=["haproxy", "python3"])
    if certificate is not None:
        # before the config that names it: haproxy -c opens it
        certificate_in_place(name="HAProxy's Rancher certificate", certificate=certificate)
    checked_config(name="HAProxy config checked and live", content=content)
    haproxy_running(name="HAProxy running and enabled")


def critical_servers_up() -> None:
    """On the HAProxy host: wait until the critical backends' servers are UP (after Rancher is)."""
    if "haproxy" not in host.groups:
        return
    read_ahead.note_ahead(STATS_AHEAD, HaproxyServerStats, dict)
    servers_up(
        name="HAProxy critical servers UP",
        expected=critical_servers(),
        timeout=float(value("haproxy_wait_seconds")),
    )


def critical_servers() -> dict[str, dict[str, str]]:
    """Backend -> {server: "ip:port"} that must be UP: every k3s node in ``backend_rancher``."""
    port = backend_port()
    rendered = {server.name: f"{server.ip}:{port}" for server in k3s_node_servers()}
    return {backend: rendered if backend == RANCHER_BACKEND else {} for backend in _setting("haproxy_critical_backends")}
