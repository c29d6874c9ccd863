"""Bad inventory data stops deploy.py before any operation runs, with one line naming host and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.lab.helpers import run_pyinfra

CASES = {
    "binary-does-not-match-pin": (
        lambda inv: inv["data"].update(k3s_sha256="0" * 64),
        "deploy: host k3s-control: field k3s_sha256: ",
    ),
    "deploy-owned-config-key": (
        lambda inv: inv["data"]["k3s_config"].update({"node-ip": "10.0.0.1"}),
        "deploy: host k3s-control: field k3s_config.node-ip: is set by the deploy from the inventory",
    ),
    "watcher-interval-not-a-time-span": (
        lambda inv: inv["k3s_control"][0].update(data={"watcher_interval": "soon"}),
        "deploy: host k3s-control: field watcher_interval: 'soon' is not a systemd time span",
    ),
    "unit-source-unknown": (
        lambda inv: inv["data"].update(k3s_unit_source="rpm"),
        "deploy: host k3s-control: field k3s_unit_source: 'rpm' is not one of auto, deploy, installer",
    ),
}


@pytest.fixture(params=sorted(CASES))
def bad_run(request, lab_inventory_ssh: Path, tmp_path: Path):
    mutate, expected = CASES[request.param]
    inventory = yaml.safe_load(lab_inventory_ssh.read_text())
    inventory["secrets_file"] = str(lab_inventory_ssh.parent / inventory["secrets_file"])
    mutate(inventory)
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return run_pyinfra(path, "deploy.py", "--limit", "k3s_control"), expected


def test_bad_input_fails_the_run(bad_run) -> None:
    assert bad_run[0].returncode != 0


def test_bad_input_is_one_line_naming_host_and_field(bad_run) -> None:
    result, expected = bad_run
    assert [line for line in result.stdout.splitlines() if expected in line] != []


def test_bad_input_stops_before_any_operation(bad_run) -> None:
    assert "Starting operation" not in bad_run[0].stdout
