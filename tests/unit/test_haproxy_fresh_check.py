"""What tasks/haproxy_runtime.checked_afresh relies on, shown on a real HAProxy on loopback: a server
whose health is forced down is DOWN at once, even though its port answers, and only HAProxy's own
``rise`` passing checks after that bring it UP again."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from facts.haproxy import HaproxyServerStats, runtime_command, server_is_up

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
RISE, INTER_MS = 3, 300


@pytest.fixture
def haproxy_with_a_live_server(tmp_path):
    """A HAProxy whose only server is a loopback port that accepts connections (checks pass)."""
    if not Path(HAPROXY).exists():
        pytest.skip("haproxy is not installed")
    listener = socket.create_server(("127.0.0.2", 0))
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                listener.accept()[0].close()
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    stats_socket = tmp_path / "admin.sock"
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        f"global\n    stats socket {stats_socket} mode 600 level admin\n"
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"
        f"backend backend_rancher\n    server k3s-worker-1 127.0.0.2:{listener.getsockname()[1]} "
        f"check inter {INTER_MS}ms fall 2 rise {RISE}\n"
    )
    process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield stats_socket
    finally:
        process.terminate()
        process.wait(timeout=10)
        stop.set()
        listener.close()


def server(stats_socket: Path) -> dict[str, str]:
    command = HaproxyServerStats().command(socket=str(stats_socket))
    output = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=10).stdout.splitlines()
    return HaproxyServerStats().process(output).get("backend_rancher", {}).get("k3s-worker-1", {})


def runtime(stats_socket: Path, line: str) -> int:
    return subprocess.run(runtime_command(line, str(stats_socket)), shell=True, capture_output=True, timeout=10).returncode


def wait_up(stats_socket: Path, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds and not server_is_up(server(stats_socket)):
        time.sleep(0.05)
    return time.monotonic() - started


def test_forced_health_down_needs_rise_fresh_checks_to_be_up_again(haproxy_with_a_live_server):
    stats_socket = haproxy_with_a_live_server
    wait_up(stats_socket, 10)
    codes = (runtime(stats_socket, "set server backend_rancher/k3s-worker-1 state drain"),
             runtime(stats_socket, "set server backend_rancher/k3s-worker-1 health down"))
    down = server(stats_socket)["status"]
    runtime(stats_socket, "set server backend_rancher/k3s-worker-1 state ready")
    took = wait_up(stats_socket, 10)
    assert (codes, down.startswith("DOWN"), server_is_up(server(stats_socket))) == ((0, 0), True, True), (down, took)
