"""The repair on a timer on the lab's Proxmox host, which is this machine (``local: true``): the
deploy installs it when the host's data opts in, it heals a stopped worker by itself, and it is
removed again when the data opts out. Needs a deployed cluster (`make deploy`) and systemd as this
machine's init. The module always turns the timer off at the end, so other lab tests are not healed
behind their back."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.lab.helpers import LAB, changed_operations, pct, ready, results_table, run_pyinfra, wait_for

WORKER, VMID = "k3s-worker-1", "111"
NODES = ("k3s-control", "k3s-worker-1", "k3s-worker-2")
INTERVAL = "15s"
HEAL_DEADLINE = 180
TIMER = "k3s-node-repair.timer"
UNITS = (Path("/etc/systemd/system/k3s-node-repair.service"), Path("/etc/systemd/system/k3s-node-repair.timer"))

needs_systemd = pytest.mark.skipif(not Path("/run/systemd/system").is_dir(),
                                   reason="this machine does not run systemd, which the timer needs")


def systemctl(*args: str) -> str:
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=30).stdout.strip()


def inventory_with_timer(directory: Path, enabled: bool, repair_files: dict[str, Path]) -> Path:
    """The lab's pct inventory with the timer switched on or off on its Proxmox host."""
    raw = yaml.safe_load((LAB / "inventory-pct.yml").read_text())
    raw["secrets_file"] = str(LAB / raw["secrets_file"])
    raw["proxmox_hosts"][0]["data"] = {"repair_timer": enabled, "repair_timer_interval": INTERVAL,
                                       **{key: str(path) for key, path in repair_files.items()}}
    path = directory / f"inventory-repair-timer-{'on' if enabled else 'off'}.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


def metric(text: str, name: str) -> float:
    found = re.search(rf"^k3s_node_repair_{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else -1


@pytest.fixture(scope="module")
def repair_files(tmp_path_factory) -> dict[str, Path]:
    """A fresh log, textfile and attempt state for the timer's runs in this module."""
    directory = tmp_path_factory.mktemp("repair-timer")
    return {"repair_log_file": directory / "repair.log", "repair_textfile": directory / "k3s_node_repair.prom",
            "repair_state_file": directory / "state.json"}


@pytest.fixture(scope="module")
def timer_on(lab_inventory_pct, repair_files, tmp_path_factory):
    """Deploy with the timer on; afterwards, whatever happened, deploy with it off (limited to the
    Proxmox host, so that works on a broken cluster too) and check its units are gone."""
    directory = tmp_path_factory.mktemp("inventory")
    on = inventory_with_timer(directory, True, repair_files)
    try:
        yield on, run_pyinfra(on, "deploy.py")
    finally:
        off = run_pyinfra(inventory_with_timer(directory, False, repair_files), "deploy.py", "--limit", "proxmox_hosts")
        left = [str(unit) for unit in UNITS if unit.exists()]
        assert (off.returncode, left, systemctl("is-active", TIMER)) == (0, [], "inactive"), off.stdout[-3000:]


@pytest.fixture
def worker_restored():
    """Every node Ready before; after, the worker's container running and the worker Ready, whatever
    the timer did."""
    for node in NODES:
        wait_for(f"{node} Ready", lambda node=node: ready(node) == "True", 180)
    yield
    if "running" not in pct("status", VMID).stdout.decode():
        pct("start", VMID)
    wait_for(f"{WORKER} Ready again", lambda: ready(WORKER) == "True", 180)


@needs_systemd
def test_deploy_with_the_timer_succeeds(timer_on):
    _, result = timer_on
    assert result.returncode == 0, result.stdout[-3000:]


@needs_systemd
def test_timer_is_enabled_and_active_on_this_machine(timer_on):
    assert (systemctl("is-enabled", TIMER), systemctl("is-active", TIMER)) == ("enabled", "active")


@needs_systemd
def test_second_deploy_with_the_timer_changes_nothing(timer_on):
    inventory, _ = timer_on
    second = run_pyinfra(inventory, "deploy.py")
    assert ("Grand total" in results_table(second.stdout), changed_operations(second.stdout)) == (True, []), \
        second.stdout[-3000:]


@needs_systemd
def test_stopped_worker_is_started_by_the_timer_and_logged(timer_on, repair_files, worker_restored):
    stopped = pct("stop", VMID)
    assert stopped.returncode == 0, stopped.stderr.decode()

    def healed_line() -> str:
        log = repair_files["repair_log_file"]
        lines = log.read_text().splitlines() if log.exists() else []
        return next((line for line in lines if f"node={WORKER}" in line and 'cause="container stopped' in line
                     and f"pct start {VMID}" in line and 'result="Ready,' in line), "")

    wait_for(f"{WORKER} healed by the timer", lambda: ready(WORKER) == "True" and healed_line(), HEAL_DEADLINE)
    counters = repair_files["repair_textfile"].read_text()
    assert (metric(counters, "node_actions_total") >= 1, metric(counters, "nodes_repaired_total") >= 1) == (True, True), \
        counters


def unit_command(service: str) -> tuple[list[str], dict[str, str], str]:
    """ExecStart's words, Environment= and WorkingDirectory= of a rendered service unit."""
    lines = dict(line.split("=", 1) for line in service.splitlines() if "=" in line and not line.startswith("#"))
    name, _, value = lines["Environment"].partition("=")
    return lines["ExecStart"].split(), {name: value}, lines["WorkingDirectory"]


def test_the_service_units_own_command_heals_a_stopped_worker(lab_inventory_pct, repair_files, worker_restored):
    """What systemd would run, run as it is written in the rendered unit (this machine has no systemd
    to schedule it): a worker stopped with `pct stop` is started and Ready, exit 10, log and counters."""
    from tasks.repair_timer import SERVICE, SYSTEMD_DIR, timer_settings, unit_files
    settings = timer_settings({key: str(path) for key, path in repair_files.items()}, local=True,
                              inventory_file=lab_inventory_pct)
    argv, environment, directory = unit_command(unit_files(settings)[f"{SYSTEMD_DIR}/{SERVICE}"])
    assert pct("stop", VMID).returncode == 0
    wait_for(f"{WORKER} NotReady", lambda: ready(WORKER) != "True", 120)
    run = subprocess.run(argv, cwd=directory, env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", **environment},
                         capture_output=True, text=True, timeout=600)
    log = repair_files["repair_log_file"].read_text()
    counters = repair_files["repair_textfile"].read_text()
    assert (run.returncode, ready(WORKER), 'cause="container stopped' in log, f"pct start {VMID}" in log,
            metric(counters, "nodes_repaired_total") >= 1) == (10, "True", True, True, True), \
        run.stdout[-3000:] + log + counters
