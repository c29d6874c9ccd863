"""An inventory token other than the one the cluster was bootstrapped with stops the deploy before it
writes anything, with one line naming the host and the field; the good token file stays and k3s runs.
The lab's k3s refuses such a token as k3s does (tests/standin/test_token_bootstrap.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.lab.helpers import in_container, run_pyinfra

CONTROL_VMID = "101"
TOKEN_FILES = "/etc/rancher/k3s/token /var/lib/rancher/k3s/server/token"
WRONG_TOKEN = "not-the-token-this-cluster-was-bootstrapped-with"


def digests() -> str:
    return in_container(CONTROL_VMID, f"sha256sum {TOKEN_FILES}").stdout.decode()


@pytest.fixture(scope="module")
def wrong_token_run(deployed_ssh, lab_inventory_ssh: Path, tmp_path_factory):
    directory = tmp_path_factory.mktemp("token")
    inventory = yaml.safe_load(lab_inventory_ssh.read_text())
    secrets = yaml.safe_load((lab_inventory_ssh.parent / inventory["secrets_file"]).read_text())
    secrets["k3s_token"] = WRONG_TOKEN
    (directory / "secrets.yml").touch(mode=0o600)
    (directory / "secrets.yml").write_text(yaml.safe_dump(secrets))
    inventory["secrets_file"] = str(directory / "secrets.yml")
    (directory / "inventory.yml").write_text(yaml.safe_dump(inventory))
    before = digests()
    return run_pyinfra(directory / "inventory.yml", "deploy.py"), before


def test_wrong_token_fails_with_one_line_naming_host_and_field(wrong_token_run):
    result, _ = wrong_token_run
    lines = [line for line in result.stdout.splitlines() if "deploy: host k3s-control: field k3s_token: is not the token" in line]
    assert (result.returncode != 0, len(lines) >= 1, "Starting operation" in result.stdout) == (True, True, False)


def test_wrong_token_is_never_printed(wrong_token_run):
    assert WRONG_TOKEN not in wrong_token_run[0].stdout


def test_good_token_files_are_untouched_and_k3s_runs(wrong_token_run):
    _, before = wrong_token_run
    active = in_container(CONTROL_VMID, "systemctl is-active k3s").stdout.decode().strip()
    assert (digests(), active) == (before, "active")
