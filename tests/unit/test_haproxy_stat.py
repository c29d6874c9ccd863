"""`show stat` parsing and the UP/DOWN verdicts, on output recorded from a real HAProxy 2.6,
and the fact's own command against a HAProxy started on loopback for the test."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from facts.haproxy import HaproxyServerStats, parse_show_stat, runtime_command, servers_not_up
from verify.host_probe import server_addresses
from verify.rancher import ping_node_command

FIXTURES = Path(__file__).parent / "fixtures"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
EXPECTED = {"backend_rancher": {"k3s-control": "127.0.0.2:18443", "k3s-worker-1": "127.0.0.2:18445"}}


def recorded(name: str) -> dict:
    return parse_show_stat((FIXTURES / f"haproxy_show_stat_{name}.csv").read_text().splitlines())


def test_parse_keeps_servers_not_frontend_or_backend_rows():
    assert sorted(recorded("checked")["backend_rancher"]) == ["k3s-control", "k3s-worker-1"]


def test_parse_reads_status_and_check_fields():
    assert recorded("checked")["backend_rancher"]["k3s-worker-1"] == {
        "status": "DOWN", "check_status": "L4CON", "last_chk": "Connection refused",
        "check_desc": "Layer4 connection problem", "addr": "127.0.0.2:18445", "lastchg": "3", "scur": "0",
    }


def test_down_server_is_named_with_its_check_status():
    assert servers_not_up(recorded("checked"), EXPECTED) == [
        "backend_rancher/k3s-worker-1 DOWN (check_status='L4CON', last_chk='Connection refused', "
        "check_desc='Layer4 connection problem')"
    ]


def test_server_not_yet_checked_is_not_up():
    # right after start HAProxy shows "UP 1/2" with check_status INI before any check ran
    assert "backend_rancher/k3s-worker-1 UP 1/2 (check_status='INI', check_desc='Initializing')" in \
        servers_not_up(recorded("startup"), EXPECTED)


def test_all_servers_up_is_no_problem():
    stats = recorded("checked")
    stats["backend_rancher"]["k3s-worker-1"].update(status="UP", check_status="L7OK")
    assert servers_not_up(stats, EXPECTED) == []


def test_server_at_another_address_means_another_config_runs():
    expected = {"backend_rancher": {"k3s-control": "127.0.0.2:443"}}
    assert "backend_rancher/k3s-control: not in the running config as 127.0.0.2:443" in \
        servers_not_up(recorded("checked"), expected)


def test_missing_backend_is_a_problem():
    assert servers_not_up({}, {"backend_rancher": {}}) == ["backend_rancher: no servers in show stat"]


def test_no_output_parses_to_no_servers():
    assert parse_show_stat([]) == {}


@pytest.fixture
def live_haproxy(tmp_path):
    """A HAProxy on 127.0.0.3 whose only server (a closed loopback port) goes DOWN."""
    if not Path(HAPROXY).exists():
        pytest.skip("haproxy is not installed")
    stats_socket = tmp_path / "admin.sock"
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.2", 0))
        closed_port = probe.getsockname()[1]
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        f"global\n    stats socket {stats_socket} mode 600 level admin\n"
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"
        f"backend backend_rancher\n    server k3s-worker-1 127.0.0.2:{closed_port} check inter 200ms fall 1 rise 1\n"
    )
    process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield stats_socket, f"127.0.0.2:{closed_port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_fact_command(stats_socket: Path) -> list[str]:
    command = HaproxyServerStats().command(socket=str(stats_socket))
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=10).stdout.splitlines()


def test_fact_command_reads_a_live_stats_socket(live_haproxy):
    stats_socket, addr = live_haproxy
    deadline = time.monotonic() + 10
    server: dict = {}
    while time.monotonic() < deadline and server.get("check_status") != "L4CON":
        server = HaproxyServerStats().process(run_fact_command(stats_socket)).get("backend_rancher", {}).get("k3s-worker-1", {})
        time.sleep(0.2)
    assert (server.get("status"), server.get("check_status"), server.get("addr")) == ("DOWN", "L4CON", addr)


def test_fact_command_prints_nothing_without_a_socket(tmp_path):
    assert run_fact_command(tmp_path / "absent.sock") == []


def test_server_addresses_are_what_haproxy_dials():
    text = (FIXTURES / "haproxy_show_stat_checked.csv").read_text()
    assert server_addresses(text, "backend_rancher") == EXPECTED["backend_rancher"]


def test_ping_node_command_answers_from_a_local_tls_server(tmp_path):
    """The per-node /ping of verify/ run for real against a local TLS server that answers pong."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=rancher.test",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"), "-days", "1"],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with context.wrap_socket(connection, server_side=True) as tls:
            seen.append(tls.recv(4096))
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong")

    threading.Thread(target=serve, daemon=True).start()
    command = ping_node_command(f"127.0.0.1:{listener.getsockname()[1]}", "rancher.test")
    answer = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30)
    assert (answer.stdout, b"Host: rancher.test" in seen[0]) == ("pong", True)


def test_runtime_command_drains_and_readies_a_server_of_a_live_haproxy(live_haproxy):
    """``runtime_command`` against a real HAProxy: drain sets the admin state's drain bit (0x08 in
    ``show servers state``), ready clears it, an unknown server fails with HAProxy's message."""
    socket_path = str(live_haproxy[0])

    def run(line: str) -> subprocess.CompletedProcess:
        return subprocess.run(runtime_command(line, socket_path), shell=True, capture_output=True, text=True)

    def admin_state() -> int:
        with socket.socket(socket.AF_UNIX) as stats:
            stats.connect(socket_path)
            stats.sendall(b"show servers state backend_rancher\n")
            lines = b"".join(iter(lambda: stats.recv(65536), b"")).decode().splitlines()
        header = lines[1].lstrip("# ").split()
        row = dict(zip(header, lines[2].split()))
        return int(row["srv_admin_state"])

    time.sleep(0.5)  # the socket is up once HAProxy has parsed its config
    drained = run("set server backend_rancher/k3s-worker-1 state drain")
    drained_state = admin_state()
    readied = run("set server backend_rancher/k3s-worker-1 state ready")
    typo = run("set server backend_rancher/no-such-server state drain")
    assert (drained.returncode, drained_state & 0x08, readied.returncode, admin_state() & 0x08,
            typo.returncode != 0, "No such server" in typo.stderr) == (0, 0x08, 0, 0, True, True), typo.stderr
