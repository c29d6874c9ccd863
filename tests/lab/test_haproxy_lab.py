"""HAProxy on the lab: the checked config goes live once, a bad value never does, and with
Rancher deployed every backend_rancher server is UP and /ping through HAProxy is pong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from facts.haproxy import HaproxyServerStats
from tests.lab.helpers import LAB, run_pyinfra, ssh, verify_until_green
from verify import host_probe

HAPROXY_IP = "10.213.0.121"
LIVE_CONFIG = "/etc/haproxy/haproxy.cfg"


def inventory_copy(source: Path, directory: Path, **data) -> Path:
    """The lab inventory with ``data`` overridden, written beside the test (the lab's file stays)."""
    raw = yaml.safe_load(source.read_text())
    raw["data"].update(data)
    raw["secrets_file"] = str(LAB / raw["secrets_file"])
    path = directory / "inventory.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


def live_config_sha() -> str:
    return ssh(HAPROXY_IP, f"sha1sum {LIVE_CONFIG}").stdout.split()[0]


def haproxy_stats() -> dict:
    return HaproxyServerStats().process(ssh(HAPROXY_IP, HaproxyServerStats().command()).stdout.splitlines())


def ping_through_haproxy(hostname: str) -> str:
    """/ping with Rancher's name resolved to the HAProxy container, SNI and Host as a browser sends them."""
    return ssh(HAPROXY_IP, host_probe.command("ping", HAPROXY_IP, "443", hostname)).stdout


@pytest.fixture(scope="module")
def haproxy_only(lab_inventory_ssh: Path, tmp_path_factory) -> Path:
    """The lab inventory without critical backends, so HAProxy alone can be deployed and re-run."""
    return inventory_copy(lab_inventory_ssh, tmp_path_factory.mktemp("haproxy_only"), haproxy_critical_backends=[])


@pytest.fixture(scope="module")
def haproxy_deployed(haproxy_only: Path):
    result = run_pyinfra(haproxy_only, "deploy.py", "--limit", "haproxy", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    return result


def test_live_config_passes_haproxy_check(haproxy_deployed):
    assert ssh(HAPROXY_IP, f"haproxy -c -f {LIVE_CONFIG}").returncode == 0


def test_live_config_lists_every_k3s_node(haproxy_deployed):
    servers = ssh(HAPROXY_IP, f"awk '$1 == \"server\" {{print $2, $3}}' {LIVE_CONFIG}").stdout.split("\n")
    assert servers[:3] == ["k3s-control 10.213.0.101:443", "k3s-worker-1 10.213.0.111:443", "k3s-worker-2 10.213.0.112:443"]


def test_runtime_api_shows_backend_rancher_servers(haproxy_deployed):
    assert sorted(haproxy_stats()["backend_rancher"]) == ["k3s-control", "k3s-worker-1", "k3s-worker-2"]


def test_second_run_changes_nothing(haproxy_only: Path, haproxy_deployed):
    result = run_pyinfra(haproxy_only, "deploy.py", "--limit", "haproxy", timeout=300)
    changed = re.findall(r"\[haproxy\]\s+Success", result.stdout)
    assert (result.returncode, changed) == (0, []), result.stdout[-3000:]


def test_bad_port_fails_with_haproxys_message_naming_the_host(lab_inventory_ssh: Path, haproxy_deployed, tmp_path):
    bad = inventory_copy(lab_inventory_ssh, tmp_path, haproxy_critical_backends=[], haproxy_backend_port=70000)
    result = run_pyinfra(bad, "deploy.py", "--limit", "haproxy", timeout=300)
    assert (result.returncode != 0, "[haproxy]" in result.stdout,
            "'server backend_rancher/k3s-control' : invalid port '70000'" in result.stdout) == (True, True, True), \
        result.stdout[-3000:]


def test_bad_port_leaves_the_previous_config_live_and_serving(lab_inventory_ssh: Path, haproxy_deployed, tmp_path):
    before = live_config_sha()
    bad = inventory_copy(lab_inventory_ssh, tmp_path, haproxy_critical_backends=[], haproxy_backend_port=70000)
    run_pyinfra(bad, "deploy.py", "--limit", "haproxy", timeout=300)
    # python3, not curl: the lab's containers have Proxmox's template package set
    stats_status = "python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:8404/stats\").status)'"
    serving = ssh(HAPROXY_IP, f"systemctl is-active haproxy && {stats_status}")
    assert (live_config_sha(), serving.stdout.split()) == (before, ["active", "200"])


def test_every_backend_rancher_server_is_up_after_the_deploy(deployed_ssh, lab_inventory_ssh: Path):
    # Earlier modules reboot nodes; HAProxy's view settles within its rise checks.
    verify_until_green(lab_inventory_ssh, "-k", "test_rancher_backend_servers_are_up")
    servers = haproxy_stats()["backend_rancher"]
    assert {name: fields["status"] for name, fields in servers.items()} == \
        {"k3s-control": "UP", "k3s-worker-1": "UP", "k3s-worker-2": "UP"}


def test_rancher_ping_through_haproxy_is_pong(deployed_ssh, lab_inventory_ssh: Path):
    hostname = yaml.safe_load(lab_inventory_ssh.read_text())["data"]["rancher_hostname"]
    assert ping_through_haproxy(hostname) == "pong"
