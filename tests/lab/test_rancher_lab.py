"""Rancher on the lab, installed from the HelmChart manifest the deploy writes: it answers /ping
through Traefik's ClusterIP, a bad value fails before anything is written, the bootstrap password never
shows, and without ``rancher`` data the manifest and its objects go away (restored afterwards)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from tests.lab.helpers import LAB, changed_operations, results_table, run_pyinfra, ssh
from facts.rancher import RancherStatus

CONTROL_IP = "10.213.0.101"
MANIFEST = "/var/lib/rancher/k3s/server/manifests/rancher.yaml"


def inventory_copy(source: Path, directory: Path, rancher: dict | None) -> Path:
    """The lab inventory with the ``rancher`` mapping replaced (or removed when None)."""
    raw = yaml.safe_load(source.read_text())
    raw["data"].pop("rancher", None)
    if rancher is not None:
        raw["data"]["rancher"] = rancher
    raw["secrets_file"] = str(LAB / raw["secrets_file"])
    path = directory / "inventory.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


STATUS_ARGS = {"hostname": "rancher.lab.test", "tls": "rancher"}


def rancher_status() -> dict:
    return RancherStatus().process(ssh(CONTROL_IP, RancherStatus().command(**STATUS_ARGS)).stdout.splitlines())


def manifest_sha() -> str:
    return ssh(CONTROL_IP, f"sha1sum {MANIFEST}").stdout.split(" ")[0]


def bootstrap_password() -> str:
    return str(yaml.safe_load((LAB / "secrets.yml").read_text())["rancher_bootstrap_password"])


def test_manifest_is_readable_by_root_only(deployed_ssh):
    assert ssh(CONTROL_IP, f"stat -c '%a %U' {MANIFEST}").stdout.strip() == "600 root"


def test_rancher_answers_ping_through_traefik(deployed_ssh):
    status = rancher_status()
    assert (status["ready"], status["problem"]) == (True, None)


def test_bootstrap_password_never_in_deploy_output(deployed_ssh):
    assert bootstrap_password() not in deployed_ssh.stdout


def test_status_fact_output_holds_no_bootstrap_password(deployed_ssh):
    assert bootstrap_password() not in ssh(CONTROL_IP, RancherStatus().command(**STATUS_ARGS)).stdout


def test_second_deploy_changes_nothing_for_rancher(deployed_ssh, lab_inventory_ssh: Path):
    result = run_pyinfra(lab_inventory_ssh, "deploy.py", "--limit", "k3s_control")
    changed = changed_operations(result.stdout)
    rancher_rows = [name for name in results_table(result.stdout) if name.startswith("Rancher from a HelmChart")]
    # cert-manager, Traefik's override, the chart archives, both manifests, the waits, the TLS objects
    assert (result.returncode, len(rancher_rows) >= 8, changed) == (0, True, []), result.stdout[-3000:]


@pytest.mark.parametrize("field,value", [("replicas", 0), ("hostname", "not a name")])
def test_bad_value_fails_naming_host_and_field_and_keeps_the_manifest(
        deployed_ssh, lab_inventory_ssh: Path, tmp_path, field, value):
    before = manifest_sha()
    settings = {**yaml.safe_load(lab_inventory_ssh.read_text())["data"]["rancher"], field: value}
    result = run_pyinfra(inventory_copy(lab_inventory_ssh, tmp_path, settings), "deploy.py", "--limit", "k3s_control")
    assert (result.returncode != 0, f"rancher: host k3s-control: field rancher.{field}:" in result.stdout,
            manifest_sha()) == (True, True, before), result.stdout[-3000:]


def test_without_rancher_data_the_manifest_and_objects_go_and_come_back(deployed_ssh, lab_inventory_ssh: Path, tmp_path):
    removed = run_pyinfra(inventory_copy(lab_inventory_ssh, tmp_path, None), "deploy.py", "--limit", "k3s_control")
    deadline = time.monotonic() + 120
    leftovers = "?"
    while time.monotonic() < deadline and leftovers:
        leftovers = ssh(CONTROL_IP, f"ls {MANIFEST} 2>/dev/null; k3s kubectl get helmchart -n kube-system rancher "
                                    "--ignore-not-found -o name; k3s kubectl get deployment -n cattle-system rancher "
                                    "--ignore-not-found -o name").stdout.strip()
        time.sleep(2)
    restored = run_pyinfra(lab_inventory_ssh, "deploy.py")
    assert (removed.returncode, leftovers, restored.returncode) == (0, "", 0), removed.stdout[-2000:] + restored.stdout[-2000:]
