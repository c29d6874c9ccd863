"""The lab's containers: booted systemd, SSH with strict host key checking, pyinfra reachability."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.lab.helpers import REPO, ssh
from topology import lab_containers

CONTAINERS = lab_containers()


@pytest.mark.parametrize("ct", CONTAINERS, ids=lambda ct: ct.name)
def test_container_boots_to_running_systemd(ct) -> None:
    result = subprocess.run(["lxc-attach", "-n", str(ct.vmid), "--", "systemctl", "is-system-running"],
                            capture_output=True, text=True)
    assert result.stdout.strip() in ("running", "degraded")


@pytest.mark.parametrize("ct", CONTAINERS, ids=lambda ct: ct.name)
def test_ssh_with_lab_key_reaches_container(lab_inventory_ssh: Path, ct) -> None:
    assert ssh(ct.ip, "hostname").stdout.strip() == ct.name


def test_ssh_refuses_unknown_host_key(lab_inventory_ssh: Path, tmp_path: Path) -> None:
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    result = ssh(CONTAINERS[0].ip, "true", known_hosts=empty_known_hosts)
    assert result.returncode == 255 and "Host key verification failed" in result.stderr


def test_containers_have_no_route_out(lab_inventory_ssh: Path) -> None:
    routes = ssh(CONTAINERS[0].ip, "ip -4 route show default").stdout.strip()
    assert routes == ""


def test_pyinfra_reaches_every_host_over_ssh(lab_inventory_ssh: Path) -> None:
    result = subprocess.run(
        [str(REPO / ".venv/bin/pyinfra"), "-y", "inventory.py", "exec", "--", "hostname"],
        cwd=REPO, env={"K3S_INVENTORY": str(lab_inventory_ssh), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    log = " ".join((result.stdout + result.stderr).split())  # pyinfra logs to stderr
    assert all(f"[{ct.name}] Success" in log for ct in CONTAINERS)
