"""`make setup` (what an operator runs on a Proxmox host) installs only the product's packages: Debian's
lxc conflicts with Proxmox's lxc-pve and would take the container stack away. The lab's targets add
theirs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def planned_apt_packages(target: str) -> set[str]:
    """The package names the target's recipe would check and install (``make -n -B``: nothing runs)."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    plan = subprocess.run(["make", "-n", "-B", target], cwd=REPO, capture_output=True, text=True, check=True).stdout
    words: set[str] = set()
    for line in plan.splitlines():
        if "dpkg-query" in line:
            words |= set(line.split("for p in ", 1)[1].split(";", 1)[0].split())
    return words


def test_setup_installs_no_lxc():
    packages = planned_apt_packages("setup")
    assert ("python3-venv" in packages, "lxc" in packages) == (True, False), packages


def test_lab_setup_adds_lxc_and_debootstrap():
    assert {"lxc", "debootstrap"} <= planned_apt_packages("lab-setup")


def test_lab_setup_adds_openssh_server_and_etcd():
    assert {"openssh-server", "etcd-server", "etcd-client"} <= planned_apt_packages("lab-setup")


FAKES = {
    # Nothing is installed yet.
    "dpkg-query": "#!/bin/sh\nexit 1\n",
    # The install records what the policy layer answers a start of ssh while it runs.
    "apt-get": '#!/bin/sh\ncase "$*" in *install*) "$POLICY" ssh start; echo "policy $?" >> "$CALLS";; esac\n',
    "systemctl": '#!/bin/sh\necho "systemctl $*" >> "$CALLS"\n',
    "update-rc.d": '#!/bin/sh\necho "update-rc.d $*" >> "$CALLS"\n',
}


def openssh_server_install(tmp_path: Path, machine_policy: str | None = None) -> list[str]:
    """lab-setup's openssh-server line, run with fake apt tools and a policy-rc.d path in ``tmp_path``
    (holding ``machine_policy`` before, when given); the calls it made, then whether the policy-rc.d is left."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    plan = subprocess.run(["make", "-n", "-B", "lab-setup"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    [line] = [line for line in plan.splitlines() if "for p in openssh-server etcd-server;" in line]
    bin_dir, policy, calls = tmp_path / "bin", tmp_path / "policy-rc.d", tmp_path / "calls"
    bin_dir.mkdir()
    if machine_policy is not None:
        policy.write_text(machine_policy)
        policy.chmod(0o755)
    for name, script in FAKES.items():
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    subprocess.run(["sh", "-c", line.replace("/usr/sbin/policy-rc.d", str(policy))], check=True, timeout=30,
                   env={"PATH": f"{bin_dir}:/usr/bin:/bin", "POLICY": str(policy), "CALLS": str(calls)})
    return [*calls.read_text().splitlines(), f"policy left: {policy.exists()}"]


def test_openssh_server_is_installed_with_service_starts_refused_and_its_units_disabled_after(tmp_path):
    assert openssh_server_install(tmp_path) == [
        "policy 101", "systemctl disable --now ssh.service ssh.socket etcd.service", "update-rc.d ssh disable",
        "update-rc.d etcd disable", "policy left: False"]


def test_a_policy_rc_d_the_machine_has_is_left_as_it_was(tmp_path):
    docker_policy = "#!/bin/sh\n# the machine's own\nexit 101\n"
    openssh_server_install(tmp_path, docker_policy)
    assert (tmp_path / "policy-rc.d").read_text() == docker_policy
