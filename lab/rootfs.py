"""The lab's Debian bookworm root filesystem, built once with debootstrap and cached.

Containers cannot reach a package archive (the lab has no route out), so everything they need is
installed here, on this machine, when the rootfs is built. The cache key is a hash of this recipe
and of the kubectl binary it ships, so changing either rebuilds it.

Example:

    lower = ensure_rootfs()   # /var/cache/k3s-lab/rootfs-<hash>
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from topology import CACHE_DIR

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# As Proxmox's debian-12-standard template (proxmox/dab's package set for the standard flavour):
# python3, but no curl; haproxy is what the deploy would install from the mirror the lab cannot reach.
# zstd: the k3s stand-in decompresses `.tar.zst` image archives with it (real k3s links a zstd decoder).
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-yaml", "iproute2",
    "iputils-ping", "iptables", "openssl", "ca-certificates", "haproxy", "logrotate",
    "procps", "kmod", "less", "util-linux", "etcd-server", "etcd-client", "zstd",
)
# This machine mounts the cgroup v1 `cpu` and `cpuacct` controllers as two hierarchies, which
# systemd in a container does not expect: it leaves `cpu,cpuacct` empty, so kubelet would find
# neither. A Proxmox host (cgroup v2, or v1 with `cpu,cpuacct` joined) has both; this unit gives the
# lab's containers the same, before anything that runs k3s starts.
CGROUP_UNIT = """[Unit]
Description=Lab: mount the cgroup v1 cpu and cpuacct hierarchies as a Proxmox host has them
DefaultDependencies=no
After=sys-fs-cgroup.mount
Before=multi-user.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'grep -q " /sys/fs/cgroup/cpu .* cgroup " /proc/self/mountinfo && exit 0; \
  mount -o remount,rw /sys/fs/cgroup && for c in cpu cpuacct; do rm -f /sys/fs/cgroup/$c; \
  mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c; done; \
  rmdir /sys/fs/cgroup/cpu,cpuacct; mount -o remount,ro /sys/fs/cgroup'

[Install]
WantedBy=multi-user.target
"""
# Why each step: host keys are made per container; HAProxy is enabled by the deploy, not the image;
# Debian's own etcd service would hold 2379 that the stand-in's embedded etcd (an HA k3s server's
# child, as k3s's) listens on; an empty machine-id makes every container generate its own.
CHROOT_SETUP = f"""
set -e
rm -f /etc/ssh/ssh_host_*
systemctl disable haproxy.service
systemctl mask etcd.service
cat > /etc/systemd/system/lab-cgroup-v1.service <<'UNIT'
{CGROUP_UNIT}UNIT
systemctl enable lab-cgroup-v1.service
truncate -s 0 /etc/machine-id
rm -f /var/lib/dbus/machine-id
apt-get clean
"""


def ensure_rootfs() -> Path:
    """Return the cached rootfs for the current recipe, building it when missing."""
    target = CACHE_DIR / f"rootfs-{recipe_hash()}"
    if (target / ".complete").exists():
        return target
    _build(target)
    return target


def recipe_hash() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(_kubectl().read_bytes())
    return digest.hexdigest()[:12]


def _kubectl() -> Path:
    found = shutil.which("kubectl")
    if not found:
        raise SystemExit("lab: kubectl not found on PATH (install requirements.txt into the venv)")
    return Path(found).resolve()


def _build(target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    debs = CACHE_DIR / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["debootstrap", "--variant=minbase", f"--cache-dir={debs}", f"--include={','.join(PACKAGES)}",
         SUITE, str(partial), MIRROR],
        check=True,
    )
    shutil.copy2(_kubectl(), partial / "usr/local/bin/kubectl")
    subprocess.run(["chroot", str(partial), "/bin/sh", "-c", CHROOT_SETUP], check=True)
    (partial / ".complete").touch()
    partial.rename(target)
