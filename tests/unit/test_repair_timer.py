"""The repair timer's units and the checks on its inventory data (pure logic; no systemd)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_host, ctx_state

from inventory_schema import load_inventory
from tasks.repair_timer import REMOTE, RepairTimer, timer_settings, unit_files, wanted_timer
from tasks.settings import DeployDataError, InvalidField

SERVICE = "/etc/systemd/system/k3s-node-repair.service"
TIMER = "/etc/systemd/system/k3s-node-repair.timer"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout with its venv's python, as `make setup` leaves it."""
    python = tmp_path / "k3s" / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    return tmp_path / "k3s"


@pytest.fixture
def timer(checkout: Path) -> RepairTimer:
    return timer_settings({"repair_timer_interval": "90s", "repair_log_file": "/srv/repair.log"}, local=True,
                          inventory_file=Path("/root/cluster.yml"), checkout=checkout)


def unit_lines(content: str) -> list[str]:
    return [line for line in content.splitlines() if line and not line.startswith("#")]


def test_service_runs_this_checkouts_repair_on_control_nodes_and_proxmox_hosts(timer, checkout):
    assert f"ExecStart={checkout}/.venv/bin/python {checkout}/repair.py -y --limit k3s_control " \
           "--limit proxmox_hosts --data repair_log_file=/srv/repair.log " \
           "--data repair_textfile=/var/lib/node_exporter/textfile_collector/k3s_node_repair.prom " \
           "--data repair_state_file=/var/lib/k3s-node-repair/state.json" in unit_lines(unit_files(timer)[SERVICE])


def test_service_names_the_inventory_and_the_checkout(timer, checkout):
    lines = unit_lines(unit_files(timer)[SERVICE])
    assert ("Environment=K3S_INVENTORY=/root/cluster.yml" in lines, f"WorkingDirectory={checkout}" in lines) == (True, True)


def test_service_is_a_oneshot_for_which_repaired_and_locked_out_are_success(timer):
    lines = unit_lines(unit_files(timer)[SERVICE])
    assert ("Type=oneshot" in lines, "SuccessExitStatus=10 40" in lines) == (True, True)


def test_timer_repeats_after_the_interval(timer):
    assert unit_lines(unit_files(timer)[TIMER]) == [
        "[Unit]", "Description=Run the k3s node repair periodically",
        "[Timer]", "OnBootSec=5min", "OnUnitInactiveSec=90s", "AccuracySec=1s", "Unit=k3s-node-repair.service",
        "[Install]", "WantedBy=timers.target",
    ]


def test_interval_defaults_to_two_minutes(checkout):
    assert timer_settings({}, local=True, inventory_file=Path("/root/cluster.yml"), checkout=checkout).interval == "2min"


@pytest.mark.parametrize("interval", ["2 mins", "soon", "0", "0s", "-1min"])
def test_bad_interval_is_an_error_naming_the_field(interval, checkout):
    with pytest.raises(InvalidField) as error:
        timer_settings({"repair_timer_interval": interval}, local=True, inventory_file=Path("/root/cluster.yml"),
                       checkout=checkout)
    assert error.value.field == "repair_timer_interval"


@pytest.mark.parametrize("interval", ["30s", "2min", "2 minutes", "1h 30min", "0.5h"])
def test_systemd_time_spans_are_accepted(interval, checkout):
    settings = timer_settings({"repair_timer_interval": interval}, local=True,
                              inventory_file=Path("/root/cluster.yml"), checkout=checkout)
    assert settings.interval == interval


@pytest.mark.parametrize("path", ["relative.log", "/var/log/with space.log", "/var/log/%n.log", "~/repair.log"])
def test_log_path_a_unit_file_would_not_read_literally_is_an_error(path, checkout):
    with pytest.raises(InvalidField) as error:
        timer_settings({"repair_log_file": path}, local=True, inventory_file=Path("/root/cluster.yml"), checkout=checkout)
    assert error.value.field == "repair_log_file"


def test_inventory_path_with_a_space_is_an_error(checkout):
    with pytest.raises(InvalidField) as error:
        timer_settings({}, local=True, inventory_file=Path("/root/my cluster.yml"), checkout=checkout)
    assert (error.value.field, "inventory path" in error.value.problem) == ("repair_timer", True)


def test_checkout_without_venv_is_an_error(tmp_path):
    with pytest.raises(InvalidField) as error:
        timer_settings({}, local=True, inventory_file=Path("/root/cluster.yml"), checkout=tmp_path)
    assert error.value.problem == f"{tmp_path}/.venv/bin/python is missing: run `make setup` in {tmp_path}"


def test_remote_proxmox_host_is_refused(checkout):
    with pytest.raises(InvalidField) as error:
        timer_settings({}, local=False, inventory_file=Path("/root/cluster.yml"), checkout=checkout)
    assert (error.value.field, error.value.problem) == ("repair_timer", REMOTE)


def test_remote_proxmox_host_error_is_one_line_naming_host_and_field(tmp_path):
    inventory_file = tmp_path / "cluster.yml"
    inventory_file.write_text(
        "proxmox_hosts:\n"
        "- {name: pve2, ssh: {host: 192.0.2.12}, data: {repair_timer: true}}\n"
        "k3s_control:\n"
        "- {name: k3s-control, node_ip: 192.0.2.101, pct: {node: pve2, vmid: 101}}\n"
    )
    pve2 = next(member for member in load_inventory(inventory_file).hosts if member.name == "pve2")
    pyinfra_inventory = Inventory(([(pve2.pyinfra_name, pve2.data)], {}))
    with ctx_state.use(State(pyinfra_inventory, Config())), ctx_host.use(pyinfra_inventory.get_host("pve2")):
        with pytest.raises(DeployDataError) as error:
            wanted_timer()
    assert str(error.value) == f"deploy: host pve2: field repair_timer: {REMOTE}"


def test_proxmox_host_without_the_opt_in_wants_no_timer():
    pyinfra_inventory = Inventory(([("@local", {"node_name": "pve1"})], {}))
    with ctx_state.use(State(pyinfra_inventory, Config())), ctx_host.use(pyinfra_inventory.get_host("@local")):
        assert wanted_timer() is None


def test_proxmox_host_data_is_its_own_not_the_clusters(tmp_path):
    inventory_file = tmp_path / "cluster.yml"
    inventory_file.write_text(
        "data: {repair_max_nodes: 2}\n"
        "proxmox_hosts:\n"
        "- {name: pve1, local: true, data: {repair_timer: true, repair_timer_interval: 90s}}\n"
        "k3s_control:\n"
        "- {name: k3s-control, node_ip: 192.0.2.101, pct: {node: pve1, vmid: 101}}\n"
    )
    pve1 = next(member for member in load_inventory(inventory_file).hosts if member.name == "pve1")
    assert (pve1.pyinfra_name, pve1.data) == (
        "@local", {"repair_timer": True, "repair_timer_interval": "90s", "node_name": "pve1", "pct_command": "pct"})
