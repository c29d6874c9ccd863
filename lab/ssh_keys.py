"""The lab's SSH identity: one client key pair, a host key per container and per Proxmox node
reached over SSH, and a known_hosts file.

Host keys are made here, before a container first starts (or the node's sshd), so known_hosts is
exact from the start and host key checking stays on.

Example:

    ensure_client_key(); install_into(upper, ct); write_known_hosts(containers); write_ssh_config()
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from topology import SSH_DIR, SSH_NODE, SSH_NODE_ADDRESS, SSH_NODE_PORT, STATE_DIR, Container

CLIENT_KEY = SSH_DIR / "id_ed25519"
KNOWN_HOSTS = SSH_DIR / "known_hosts"
SSH_CONFIG = SSH_DIR / "config"
HOST_KEYS = STATE_DIR / "hostkeys"
LAB_CLIENT_KEY = STATE_DIR / "ssh" / "id_ed25519"


def ensure_client_key() -> Path:
    """The lab's client key lives with the lab (not the checkout), so any checkout reaches the
    same containers; each checkout gets a copy in lab/ssh/ for its inventories."""
    if not LAB_CLIENT_KEY.exists():
        LAB_CLIENT_KEY.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _keygen(LAB_CLIENT_KEY, "k3s-lab")
    SSH_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    for suffix in ("", ".pub"):
        source, target = Path(f"{LAB_CLIENT_KEY}{suffix}"), Path(f"{CLIENT_KEY}{suffix}")
        if not target.exists() or target.read_bytes() != source.read_bytes():
            target.write_bytes(source.read_bytes())
            target.chmod(0o600)
    return CLIENT_KEY


def host_key(ct: Container) -> Path:
    """The container's ed25519 host key, kept outside its rootfs so a rebuilt container keeps it."""
    key = HOST_KEYS / str(ct.vmid) / "ssh_host_ed25519_key"
    if not key.exists():
        key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _keygen(key, f"root@{ct.name}")
    return key


def node_host_key(node: str) -> Path:
    """The ed25519 host key of a Proxmox node's sshd, kept with the lab's host keys."""
    key = HOST_KEYS / f"node-{node}" / "ssh_host_ed25519_key"
    if not key.exists():
        key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _keygen(key, f"root@{node}")
    return key


def install_into(root: Path, ct: Container) -> None:
    """Put the host key and the authorized client key into a container's root directory."""
    ssh_etc = root / "etc/ssh"
    ssh_etc.mkdir(parents=True, exist_ok=True)
    key = host_key(ct)
    for source in (key, key.with_suffix(".pub")):
        target = ssh_etc / source.name
        target.write_bytes(source.read_bytes())
        target.chmod(0o600 if source == key else 0o644)
    root_ssh = root / "root/.ssh"
    root_ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    authorized = root_ssh / "authorized_keys"
    authorized.write_text(CLIENT_KEY.with_suffix(".pub").read_text())
    authorized.chmod(0o600)


def write_known_hosts(containers: list[Container]) -> None:
    """Each container at its address and node lab2's sshd as `[127.0.0.1]:2222` (OpenSSH's and
    paramiko's form for a port other than 22)."""
    keys = [(ct.ip, host_key(ct)) for ct in containers]
    keys.append((f"[{SSH_NODE_ADDRESS}]:{SSH_NODE_PORT}", node_host_key(SSH_NODE)))
    lines = []
    for address, key in keys:
        key_type, key_data = key.with_suffix(".pub").read_text().split()[:2]
        lines.append(f"{address} {key_type} {key_data}")
    KNOWN_HOSTS.write_text("\n".join(lines) + "\n")


def write_ssh_config() -> None:
    """An OpenSSH client config naming node lab2 (`ssh -F lab/ssh/config lab2`), for the tools that
    take a host name and an ssh config but no port, e.g. verify's `--hosts=pct://112@lab2 --ssh-config`."""
    SSH_CONFIG.write_text("\n".join([
        "# Written by `make lab-up`: reaches Proxmox node lab2 as the pct inventory does.",
        f"Host {SSH_NODE}",
        f"  HostName {SSH_NODE_ADDRESS}",
        f"  Port {SSH_NODE_PORT}",
        "  User root",
        f"  IdentityFile {CLIENT_KEY}",
        "  IdentitiesOnly yes",
        f"  UserKnownHostsFile {KNOWN_HOSTS}",
        "  StrictHostKeyChecking yes",
    ]) + "\n")


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
