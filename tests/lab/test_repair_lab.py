"""repair.py on the lab, over SSH and over pct: each scenario breaks a green cluster, repairs it and
leaves it green (all nodes Ready). Needs a deployed cluster (`make deploy`); it does not deploy, so it
can run beside other lab users, and it acts only on the workers (``repair_nodes``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.lab.helpers import LAB, REPO, in_container, pct, ready, wait_ready_state

WORKERS = {"k3s-worker-1": "111", "k3s-worker-2": "112"}
AGENT_UNIT = "/etc/systemd/system/k3s-agent.service"


def verify_nodes(inventory: Path) -> subprocess.CompletedProcess:
    """The verify/ suites about nodes and k3s units (HAProxy and Rancher have their own tests)."""
    return subprocess.run(
        [str(REPO / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "verify/test_cluster_nodes.py",
         "verify/test_k3s_units.py", "--inventory", str(inventory)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module", params=["ssh", "pct"])
def inventory(request, lab_inventory_ssh, tmp_path_factory) -> Path:
    """The lab inventory over SSH (with the pct inventory's Proxmox hosts, lab and lab2, so containers
    can be started on their node) or over pct."""
    if request.param == "pct":
        return LAB / "inventory-pct.yml"
    raw = yaml.safe_load((LAB / "inventory-ssh.yml").read_text())
    raw["secrets_file"] = str(LAB / raw["secrets_file"])
    raw["proxmox_hosts"] = yaml.safe_load((LAB / "inventory-pct.yml").read_text())["proxmox_hosts"]
    path = tmp_path_factory.mktemp("inventory") / "inventory-ssh-proxmox.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


# Planning and reporting do not depend on how hosts are reached: those tests run over SSH only. Of
# the repairs, only a container's start differs by connection (over pct it is the host's own
# connector; over SSH through the inventory's Proxmox host, then the host's SSH reconnected), so it
# runs over both; a unit's restart and /dev/kmsg's link are one command through whichever connector,
# each shown over one (the connectors themselves: tests/lab/test_pct_connector.py).
over_ssh_only = pytest.mark.parametrize("inventory", ["ssh"], indirect=True)
over_pct_only = pytest.mark.parametrize("inventory", ["pct"], indirect=True)


@pytest.fixture
def repair(inventory, tmp_path):
    """Run ``python repair.py`` on the workers with a fresh attempt-state file; returns (exit status,
    output). Other lab users' NotReady nodes would count in the unhealthy share, so only the test of
    that share keeps its default."""

    def run(*options: str, max_unhealthy_percent: int = 100) -> tuple[int, str]:
        result = subprocess.run(
            [str(REPO / ".venv/bin/python"), "repair.py", "-y", "--data", f"repair_state_file={tmp_path}/state.json",
             "--data", f"repair_nodes={','.join(WORKERS)}",
             "--data", f"repair_max_unhealthy_percent={max_unhealthy_percent}", *options],
            cwd=REPO, env={**os.environ, "K3S_INVENTORY": str(inventory), "PATH": f"{REPO}/.venv/bin:{os.environ['PATH']}"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
        )
        return result.returncode, result.stdout

    return run


@pytest.fixture
def green():
    """Every node Ready before the scenario; after it, the workers restored by hand (whatever the
    repair did) and Ready again."""
    for node in ("k3s-control", *WORKERS):
        wait_ready_state(node, True, deadline=180)
    yield
    for vmid in WORKERS.values():
        if "running" not in pct("status", vmid).stdout.decode():
            pct("start", vmid)
        in_container(vmid, f"if [ -f {AGENT_UNIT}.repair-test ]; then mv {AGENT_UNIT}.repair-test {AGENT_UNIT}; "
                           "systemctl daemon-reload; fi; [ -c /dev/kmsg ] || ln -sf /dev/console /dev/kmsg; "
                           "systemctl start k3s-agent")
    for node in ("k3s-control", *WORKERS):
        wait_ready_state(node, True, deadline=180)


@over_ssh_only
def test_healthy_cluster_changes_nothing(green, repair):
    status, output = repair()
    assert (status, "healthy: k3s-worker-1, k3s-worker-2 Ready" in output) == (0, True), output[-2000:]


@over_pct_only
def test_stopped_agent_and_removed_kmsg_are_repaired(green, repair, inventory):
    in_container(WORKERS["k3s-worker-1"], "systemctl stop k3s-agent && rm -f /dev/kmsg")
    wait_ready_state("k3s-worker-1", False)
    status, output = repair()
    verified = verify_nodes(inventory)
    assert (status, ready("k3s-worker-1"), verified.returncode) == (10, "True", 0), output[-3000:] + verified.stdout[-2000:]


def test_stopped_container_is_started(green, repair, inventory):
    pct("stop", WORKERS["k3s-worker-2"])
    wait_ready_state("k3s-worker-2", False)
    status, output = repair()
    verified = verify_nodes(inventory)
    assert (status, ready("k3s-worker-2"), verified.returncode) == (10, "True", 0), output[-3000:] + verified.stdout[-2000:]


@over_ssh_only
def test_unit_without_fix_is_repaired_after_reboot_and_points_to_deploy(green, repair):
    vmid = WORKERS["k3s-worker-1"]
    in_container(vmid, f"cp {AGENT_UNIT} {AGENT_UNIT}.repair-test && sed -i '/dev\\/kmsg/d' {AGENT_UNIT} "
                       "&& systemctl daemon-reload")
    pct("reboot", vmid)
    wait_ready_state("k3s-worker-1", False)
    status, output = repair()
    assert (status, ready("k3s-worker-1"), "run deploy.py to make the kmsg fix last" in output) == (10, "True", True), \
        output[-3000:]


@over_ssh_only
def test_two_broken_workers_with_one_per_run_heal_one_and_report_the_other(green, repair):
    for vmid in WORKERS.values():
        in_container(vmid, "systemctl stop k3s-agent")
    for node in WORKERS:
        wait_ready_state(node, False)
    status, output = repair()
    assert (status, sorted(ready(node) for node in WORKERS)) == (30, ["True", "Unknown"]), output[-3000:]


@over_ssh_only
def test_above_the_unhealthy_share_nothing_is_touched(green, repair):
    for vmid in WORKERS.values():
        in_container(vmid, "systemctl stop k3s-agent")
    for node in WORKERS:
        wait_ready_state(node, False)
    status, output = repair(max_unhealthy_percent=50)
    assert (status, [ready(node) for node in WORKERS]) == (30, ["Unknown", "Unknown"]), output[-3000:]


@over_ssh_only
def test_dry_run_on_a_broken_worker_changes_nothing_and_its_journal_lines_hold_no_token(green, repair):
    vmid = WORKERS["k3s-worker-2"]
    in_container(vmid, "systemctl stop k3s-agent")
    wait_ready_state("k3s-worker-2", False)
    status, output = repair("--dry")
    state = pct("exec", vmid, "--", "systemctl", "is-active", "k3s-agent").stdout.decode().strip()
    token = yaml.safe_load((LAB / "secrets.yml").read_text())["k3s_token"]
    assert (status, state, ready("k3s-worker-2"), "journal:" in output, token in output) == \
        (30, "inactive", "Unknown", True, False), output[-3000:]
