"""The lab's inventory YAML files, one per access path, and its secrets file.

Both inventories describe the same cluster (file names per LAB_TOPOLOGY: lab/topology.py); only how hosts are reached differs
(`inventory-ssh.yml`: SSH to each container; `inventory-pct.yml`: `pct exec` on each container's
Proxmox node: node `lab` is this machine, node `lab2` is reached over SSH at 127.0.0.1:2222, as in
lab/topology.py). The settings under `data` are what the lab differs in: the air-gapped k3s binary
(the stand-in), the air-gapped charts and image archives the lab builds (lab/charts.py,
lab/images.py), and short timings so tests run in minutes. The secrets file holds, besides the
token and Rancher's password, a certificate for Rancher's hostname from the lab's own CA
(lab/tls.py), for the `secret` and `external` TLS modes. The stand-in of the release before
(`release.PREVIOUS_K3S_VERSION`, built beside the default one) is what the upgrade test starts from:
`k3s_data()` gives its data.

Example:

    write_inventories(lab_containers(), binary)
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

import yaml
from airgap_inputs import (
    CERT_MANAGER_CHART,
    CERT_MANAGER_IMAGES_ARCHIVE,
    CHARTS_DIR,
    IMAGES_DIR,
    K3S_IMAGES_ARCHIVE,
    RANCHER_CHART,
    RANCHER_IMAGES_ARCHIVE,
)
from k3s_standin import DEFAULT_K3S_VERSION
from ssh_keys import CLIENT_KEY, KNOWN_HOSTS
from tls import rancher_certificate
from topology import LAB_DIR, LAB_NODE, NODES, PCT, SSH_NODE_ADDRESS, SSH_NODE_PORT, Container, inventory_name

SECRETS = LAB_DIR / "secrets.yml"
RANCHER_HOSTNAME = "rancher.lab.test"


def write_inventories(containers: list[Container], k3s_binary: Path) -> None:
    _ensure_secrets()
    data = _cluster_data(k3s_binary)
    for path, reach in ((LAB_DIR / inventory_name("ssh"), _ssh), (LAB_DIR / inventory_name("pct"), _pct)):
        inventory: dict[str, Any] = {"data": data, "secrets_file": SECRETS.name}
        if reach is _pct:
            inventory["proxmox_hosts"] = [_proxmox_host(node) for node in NODES]
        for ct in containers:
            inventory.setdefault(ct.group, []).append({"name": ct.name, "node_ip": ct.ip, **reach(ct)})
        path.write_text("# Written by `make lab-up`; regenerated on every run.\n" + yaml.safe_dump(inventory, sort_keys=False))


def k3s_data(k3s_binary: Path, version: str = DEFAULT_K3S_VERSION) -> dict[str, Any]:
    """The data that makes a stand-in build the air-gapped k3s binary (tasks/k3s_binary.py); the
    inventories carry the default version's, the upgrade test gives the previous one's as ``--data``.

    Example:
        k3s_data(BUILD_DIR / binary_name(PREVIOUS_K3S_VERSION), PREVIOUS_K3S_VERSION)["k3s_version"]
    """
    return {"k3s_version": version, "k3s_binary_src": str(k3s_binary),
            "k3s_sha256": hashlib.sha256(k3s_binary.read_bytes()).hexdigest()}


def _cluster_data(k3s_binary: Path) -> dict[str, Any]:
    return {
        **k3s_data(k3s_binary),
        # Short timings so that failures and recoveries show within a test's patience.
        "k3s_config": {
            "kube-controller-manager-arg": ["node-monitor-grace-period=20s", "node-monitor-period=2s"],
            "kube-apiserver-arg": ["default-not-ready-toleration-seconds=30",
                                   "default-unreachable-toleration-seconds=30"],
        },
        "watcher_on_boot_sec": "30s",
        "watcher_interval": "30s",
        "rancher_hostname": RANCHER_HOSTNAME,
        "k3s_image_archives": [str(IMAGES_DIR / name) for name in
                               (K3S_IMAGES_ARCHIVE, RANCHER_IMAGES_ARCHIVE, CERT_MANAGER_IMAGES_ARCHIVE)],
        "rancher": {"hostname": RANCHER_HOSTNAME, "replicas": 2, "chart_file": str(CHARTS_DIR / RANCHER_CHART.file)},
        "cert_manager": {"chart_file": str(CHARTS_DIR / CERT_MANAGER_CHART.file)},
    }


def _ssh(ct: Container) -> dict[str, Any]:
    return {"ssh": {"host": ct.ip, "user": "root", "key": str(CLIENT_KEY), "known_hosts": str(KNOWN_HOSTS)}}


def _pct(ct: Container) -> dict[str, Any]:
    return {"pct": {"node": ct.node, "vmid": ct.vmid}}


def _proxmox_host(node: str) -> dict[str, Any]:
    """Node `lab` is this machine; the other is reached over SSH on loopback (lab/node_sshd.py)."""
    if node == LAB_NODE:
        return {"name": node, "local": True, "pct_command": str(PCT)}
    ssh = {"host": SSH_NODE_ADDRESS, "port": SSH_NODE_PORT, "user": "root",
           "key": str(CLIENT_KEY), "known_hosts": str(KNOWN_HOSTS)}
    return {"name": node, "ssh": ssh, "pct_command": str(PCT)}


def _ensure_secrets() -> None:
    """Create the secrets once; a file from before the TLS entries existed gets them added."""
    kept = yaml.safe_load(SECRETS.read_text()) if SECRETS.exists() else {}
    if "rancher_tls_cert" in kept:
        return
    cert, key, ca = rancher_certificate(RANCHER_HOSTNAME)
    SECRETS.touch(mode=0o600)
    SECRETS.write_text(yaml.safe_dump({
        "k3s_token": kept.get("k3s_token") or secrets.token_hex(24),
        "rancher_bootstrap_password": kept.get("rancher_bootstrap_password") or secrets.token_urlsafe(18),
        "rancher_tls_cert": cert,
        "rancher_tls_key": key,
        "rancher_tls_ca": ca,
    }))
