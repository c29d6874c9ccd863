"""Rancher on the air-gapped lab as on a real k3s: each TLS mode end to end, and the real failures
with the product's one-line diagnosis.

The lab's k3s stand-in fails as real k3s does (issue 15): Traefik holds 80/443 on every node, images
come only from the archives the deploy delivers, a `repo:` chart cannot be reached (the helm job
crash-loops, the reason only in its log), a chart's kubeVersion is enforced. Each mode runs on the
deployed cluster by rewriting the inventory's data, then the lab's own inventory is deployed back.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.lab.helpers import (
    LAB,
    changed_operations,
    results_table,
    run_pyinfra,
    run_verify,
    ssh,
    verify_until_green,
    wait_for,
)

CONTROL_IP = "10.213.0.101"
# The repo chart's helm job fails at its first `helm repo add`, seconds after its pod starts; the deploy
# waits this long before it names the job's error (a crash-looping job may still succeed later).
SHORT_WAIT = 45


def inventory_with(base: Path, tmp_path: Path, change) -> Path:
    """A copy of a lab inventory with ``change(inventory)`` applied, secrets file kept."""
    inventory = yaml.safe_load(base.read_text())
    inventory["secrets_file"] = str(base.parent / inventory["secrets_file"])
    change(inventory)
    path = tmp_path / f"{base.stem}-changed.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def tls_mode(mode: str):
    return lambda inventory: inventory["data"]["rancher"].update(tls=mode)


def failure_line(output: str, needle: str) -> list[str]:
    return [line for line in output.splitlines() if needle in line]


@pytest.fixture(scope="module")
def restore(deployed_ssh, lab_inventory_ssh: Path) -> Iterator[None]:
    """Put the lab's own configuration back after the module, whatever it left."""
    yield
    result = run_pyinfra(lab_inventory_ssh, "deploy.py")
    assert result.returncode == 0, result.stdout[-3000:]
    assert verify_until_green(lab_inventory_ssh).returncode == 0


def served_certificate_objects() -> tuple[str, str]:
    """The type of the Secret Rancher's Ingress serves, and the private CA Secret's name."""
    secret = ssh(CONTROL_IP, "k3s kubectl -n cattle-system get secret tls-rancher-ingress -o jsonpath={.type}")
    ca = ssh(CONTROL_IP, "k3s kubectl -n cattle-system get secret tls-ca -o name --ignore-not-found")
    return secret.stdout, ca.stdout.strip()


# Each mode restarts one way (secret: every service over SSH; external: one worker's container
# through pct); the default mode's restarts both ways, every node, are tests/lab/test_verify_suites.py's.
@pytest.mark.parametrize(("mode", "restart"), [("secret", "service"), ("external", "container")])
def test_tls_mode_end_to_end(mode, restart, restore, lab_inventory_ssh: Path, lab_inventory_pct: Path,
                             tmp_path: Path) -> None:
    """Deploy, the operator's certificate served (secret), second deploy change-free, restart, verify green."""
    ssh_inventory = inventory_with(lab_inventory_ssh, tmp_path, tls_mode(mode))
    first = run_pyinfra(ssh_inventory, "deploy.py")
    assert first.returncode == 0, first.stdout[-3000:]
    if mode == "secret":
        assert served_certificate_objects() == ("kubernetes.io/tls", "secret/tls-ca")
    assert verify_until_green(ssh_inventory).returncode == 0
    second = run_pyinfra(ssh_inventory, "deploy.py")
    assert (second.returncode, "Grand total" in results_table(second.stdout), changed_operations(second.stdout)) == \
        (0, True, []), second.stdout[-3000:]
    if restart == "service":
        restarted = run_pyinfra(ssh_inventory, "restart.py")
    else:
        restarted = run_pyinfra(inventory_with(lab_inventory_pct, tmp_path, tls_mode(mode)), "restart.py",
                                "--data", "restart_mode=container", "--data", "restart_nodes=k3s-worker-1")
    assert restarted.returncode == 0, restarted.stdout[-3000:]
    assert run_verify(ssh_inventory).returncode == 0


def test_repo_chart_in_the_air_gapped_lab_names_helms_error(restore, lab_inventory_ssh: Path, tmp_path: Path) -> None:
    def repo_chart(inventory):
        del inventory["data"]["rancher"]["chart_file"]
        inventory["data"]["rancher"]["wait_seconds"] = SHORT_WAIT
    result = run_pyinfra(inventory_with(lab_inventory_ssh, tmp_path, repo_chart), "deploy.py")
    assert result.returncode != 0
    assert failure_line(result.stdout, "is not a valid chart repository or cannot be reached") != [], \
        result.stdout[-3000:]


def test_chart_whose_kube_version_excludes_the_cluster_is_refused_before_writing(
        restore, lab_inventory_ssh: Path, tmp_path: Path) -> None:
    before = ssh(CONTROL_IP, "sha256sum /var/lib/rancher/k3s/server/manifests/rancher.yaml").stdout

    def old_chart(inventory):
        inventory["data"]["rancher"]["chart_file"] = str(LAB / "build/charts/rancher-2.9.3.tgz")
    result = run_pyinfra(inventory_with(lab_inventory_ssh, tmp_path, old_chart), "deploy.py")
    assert result.returncode != 0
    assert failure_line(result.stdout, "field rancher.chart_file: chart rancher-2.9.3 requires kubeVersion "
                                       "< 1.31.0-0, which excludes k3s_version v1.31.4+k3s1") != [], result.stdout[-3000:]
    assert ssh(CONTROL_IP, "sha256sum /var/lib/rancher/k3s/server/manifests/rancher.yaml").stdout == before


def recreatable(listed: str) -> list[dict]:
    """``kubectl get -o json`` items without what the server sets, to create them again."""
    items = json.loads(listed)
    items = items.get("items", [items])
    for item in items:
        item.pop("status", None)
        for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            item["metadata"].pop(key, None)
    return items


def test_tls_rancher_without_cert_managers_issuer_kind_stops_at_cert_managers_check(
        restore, lab_inventory_ssh: Path, tmp_path: Path) -> None:
    """`tls: rancher` needs cert-manager's Issuer kind (Rancher's chart renders an Issuer): with its CRD
    gone the deploy stops at cert-manager's check, naming the API's answer, before Rancher's chart."""
    saved = recreatable(ssh(CONTROL_IP, "k3s kubectl get crd issuers.cert-manager.io -o json").stdout) + \
        recreatable(ssh(CONTROL_IP, "k3s kubectl get issuers -A -o json").stdout)
    assert ssh(CONTROL_IP, "k3s kubectl delete crd issuers.cert-manager.io").returncode == 0
    try:
        def short_wait(inventory):
            inventory["data"]["cert_manager"]["wait_seconds"] = 20
        result = run_pyinfra(inventory_with(lab_inventory_ssh, tmp_path, short_wait), "deploy.py")
        assert result.returncode != 0
        assert failure_line(result.stdout, 'no matches for kind "Issuer" in version "cert-manager.io/v1"') != [], \
            result.stdout[-3000:]
    finally:
        crd, *issuers = saved
        ssh(CONTROL_IP, f"echo {shlex.quote(json.dumps(crd))} | k3s kubectl create -f - && "
                        "k3s kubectl wait --for condition=established crd/issuers.cert-manager.io --timeout=60s")
        for issuer in issuers:
            created = ssh(CONTROL_IP, f"echo {shlex.quote(json.dumps(issuer))} | k3s kubectl create -f -")
            assert created.returncode == 0, created.stderr


def test_image_archive_missing_on_one_node_is_named(restore, lab_inventory_ssh: Path, tmp_path: Path) -> None:
    """One worker without Rancher's archive (host data) and without the image: that host fails,
    naming the image; the others finish."""
    ssh("10.213.0.112", "k3s ctr images rm docker.io/rancher/rancher:v2.10.1; "
                        "rm -f /var/lib/rancher/k3s/agent/images/rancher-images.tar")

    def without_rancher_images(inventory):
        worker = next(h for h in inventory["k3s_workers"] if h["name"] == "k3s-worker-2")
        archives = [a for a in inventory["data"]["k3s_image_archives"] if not a.endswith("rancher-images.tar")]
        worker["data"] = {"k3s_image_archives": archives}
    result = run_pyinfra(inventory_with(lab_inventory_ssh, tmp_path, without_rancher_images), "deploy.py")
    assert failure_line(result.stdout, "k3s-worker-2: field k3s_image_archives: image "
                                       "docker.io/rancher/rancher:v2.10.1") != [], result.stdout[-3000:]


def test_loadbalancer_on_443_beside_traefik_is_pending_with_the_schedulers_message(
        restore, lab_inventory_ssh: Path) -> None:
    """What the deploy itself used to add: a second LoadBalancer on 443 cannot get a node port."""
    service = {"apiVersion": "v1", "kind": "Service",
                             "metadata": {"name": "squatter", "namespace": "default"},
                             "spec": {"type": "LoadBalancer", "selector": {"app": "none"},
                                      "ports": [{"name": "https", "port": 443, "targetPort": 443}]}}
    created = ssh(CONTROL_IP, f"echo '{yaml.safe_dump(service)}' | k3s kubectl apply -f -")
    assert created.returncode == 0, created.stderr
    try:
        wait_for("the squatter's ServiceLB pods to be Pending", lambda: "Pending" in ssh(
            CONTROL_IP, "k3s kubectl -n kube-system get pods -l svccontroller.k3s.cattle.io/svcname=squatter "
                        "-o jsonpath={.items[*].status.phase}").stdout, 60)
        result = run_verify(lab_inventory_ssh, "-k", "svclb")
        assert (result.returncode, failure_line(result.stdout, "didn't have free ports for the requested pod ports")
                != []) == (1, True), result.stdout[-3000:]
    finally:
        ssh(CONTROL_IP, "k3s kubectl -n default delete service squatter --ignore-not-found")
