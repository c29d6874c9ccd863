"""Proxmox node lab2: an sshd of its own on loopback, whose sessions play node lab2.

A second Proxmox node is reached over SSH, as the deploy reaches a real one: Debian's sshd
listening only on 127.0.0.1:2222, with its own host key (in the lab's known_hosts as
`[127.0.0.1]:2222`) and the lab's client key authorized for root. `SetEnv LAB_PVE_NODE=lab2`
(OpenSSH >= 8.7) makes `lab/bin/pct` in its sessions see only lab2's containers.

On a Proxmox node `/etc/pve/lxc` is that node's own conf directory (proxmox/pve-cluster
src/pmxcfs/pmxcfs.c: `cfs_plug_link_new("lxc", "nodes/<nodename>/lxc")`) while `nodes/` and
`ha/` are the same on every node. The sshd therefore runs in a mount namespace of its own where
`/etc/pve` is lab2's view: `lxc` -> `nodes/lab2/lxc`, with this machine's `nodes/` and `ha/`
bound in. So what the deploy reads or writes in `/etc/pve/lxc/<vmid>.conf` on lab2 is lab2's.

Example:

    ensure_node_sshd()      # in `lab.py up`: (re)started when missing, changed or stale
    stop_node_sshd()        # in `lab.py down`
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import containers
import ssh_keys
from topology import SSH_NODE, SSH_NODE_ADDRESS, SSH_NODE_PORT, STATE_DIR

SSHD = Path("/usr/sbin/sshd")
NODE_DIR = STATE_DIR / "nodes" / SSH_NODE
CONFIG = NODE_DIR / "sshd_config"
PID_FILE = NODE_DIR / "sshd.pid"
LOG = NODE_DIR / "sshd.log"
AUTHORIZED_KEYS = NODE_DIR / "authorized_keys"
PVE_VIEW = NODE_DIR / "pve"
# sshd's privilege separation directory, which Debian's unit makes (RuntimeDirectory=sshd).
PRIVSEP_DIR = Path("/run/sshd")
SHARED_PVE_ENTRIES = ("nodes", "ha")
START_TIMEOUT = 10
# In the new mount namespace: bind the cluster-wide parts into the view, put the view over /etc/pve.
NAMESPACE_SCRIPT = """
set -e
pve=$1 view=$2; shift 2
for entry in {entries}; do mount --bind "$pve/$entry" "$view/$entry"; done
mount --rbind "$view" "$pve"
exec "$@"
""".format(entries=" ".join(SHARED_PVE_ENTRIES))


def sshd_config(host_key: Path) -> str:
    """The node's sshd_config: loopback only, keys only, sessions playing node lab2."""
    return "\n".join([
        f"# Written by lab/node_sshd.py: the sshd of Proxmox node {SSH_NODE}, on loopback only.",
        f"ListenAddress {SSH_NODE_ADDRESS}:{SSH_NODE_PORT}",
        f"HostKey {host_key}",
        f"PidFile {PID_FILE}",
        f"AuthorizedKeysFile {AUTHORIZED_KEYS}",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        # Debian's PAM stack: its pam_unix lets a key log in to a root whose password is locked.
        "UsePAM yes",
        "AllowTcpForwarding no",
        "X11Forwarding no",
        "PrintMotd no",
        f"SetEnv LAB_PVE_NODE={SSH_NODE}",
        # pyinfra's SSH connector moves files over SFTP.
        "Subsystem sftp internal-sftp",
    ]) + "\n"


def start_command() -> list[str]:
    """`unshare` a private mount namespace, lay lab2's /etc/pve view over /etc/pve, exec sshd."""
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", NAMESPACE_SCRIPT,
            "lab-node-sshd", str(containers.PVE_ROOT), str(PVE_VIEW), str(SSHD), "-f", str(CONFIG), "-E", str(LOG)]


def require_sshd() -> None:
    """Fail with one line when Debian's openssh-server is not installed."""
    if not SSHD.exists():
        raise SystemExit(f"lab: field sshd: {SSHD} not found: install Debian's openssh-server "
                         f"(node {SSH_NODE} is reached over SSH)")


def ensure_node_sshd() -> bool:
    """Start the node's sshd unless it runs with the current config and view; True when started."""
    require_sshd()
    changed = _write_files()
    pid = running_pid()
    if pid is not None and not changed and view_is_current(pid):
        return False
    stop_node_sshd()
    _start()
    return True


def stop_node_sshd() -> None:
    """Stop the node's sshd (only the process its pid file names, and only if it is that sshd)."""
    pid = running_pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + START_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    PID_FILE.unlink(missing_ok=True)


def running_pid() -> int | None:
    """The pid in the pid file when that process is sshd started with this node's config."""
    try:
        pid = int(PID_FILE.read_text().split()[0])
        executable = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
        # The listener's title (setproctitle) keeps its arguments: `sshd: /usr/sbin/sshd -f <config> ...`.
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(executable) == SSHD.resolve() and str(CONFIG).encode() in command else None


def view_is_current(pid: int) -> bool:
    """Whether the sshd's /etc/pve is lab2's view over this machine's current `nodes/` and `ha/`
    (a `nodes/` made again after the sshd started would leave it on the old directory)."""
    seen = Path(f"/proc/{pid}/root") / containers.PVE_ROOT.relative_to("/")
    try:
        if os.readlink(seen / "lxc") != _view_link():
            return False
        return all(os.stat(seen / entry).st_ino == os.stat(containers.PVE_ROOT / entry).st_ino
                   for entry in SHARED_PVE_ENTRIES)
    except OSError:
        return False


def listening() -> bool:
    try:
        with socket.create_connection((SSH_NODE_ADDRESS, SSH_NODE_PORT), timeout=2) as connection:
            return connection.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def _view_link() -> str:
    return str(containers.node_lxc_dir(SSH_NODE).relative_to(containers.PVE_ROOT))


def _write_files() -> bool:
    """Config, authorized key and the /etc/pve view; True when the config changed."""
    NODE_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    AUTHORIZED_KEYS.write_text(ssh_keys.LAB_CLIENT_KEY.with_suffix(".pub").read_text())
    AUTHORIZED_KEYS.chmod(0o600)
    for entry in SHARED_PVE_ENTRIES:
        (PVE_VIEW / entry).mkdir(parents=True, exist_ok=True)
    link = PVE_VIEW / "lxc"
    if not link.is_symlink() or os.readlink(link) != _view_link():
        link.unlink(missing_ok=True)
        link.symlink_to(_view_link())
    wanted = sshd_config(ssh_keys.node_host_key(SSH_NODE))
    changed = not CONFIG.exists() or CONFIG.read_text() != wanted
    if changed:
        CONFIG.write_text(wanted)
    return changed


def _start() -> None:
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    checked = subprocess.run([str(SSHD), "-t", "-f", str(CONFIG)], capture_output=True, text=True)
    if checked.returncode != 0:
        raise SystemExit(f"lab: node {SSH_NODE}: field sshd_config: {_last_line(checked.stderr)}")
    started = subprocess.run(start_command(), capture_output=True, text=True)
    deadline = time.monotonic() + START_TIMEOUT
    while started.returncode == 0 and time.monotonic() < deadline:
        if running_pid() is not None and listening():
            return
        time.sleep(0.1)
    reason = _last_line(started.stderr) or _last_line(LOG.read_text() if LOG.exists() else "")
    raise SystemExit(f"lab: node {SSH_NODE}: field sshd: not listening on {SSH_NODE_ADDRESS}:{SSH_NODE_PORT} "
                     f"after {START_TIMEOUT}s: {reason or 'no message'}")


def _alive(pid: int) -> bool:
    """Running and not a zombie: the daemon's parent exited, so whoever reaps it may be slow."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
