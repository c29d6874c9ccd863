"""The lab node's conntrack table size, set like a small Proxmox host's.

`nf_conntrack_max` is one kernel-wide value; inside a container's network namespace it is
read-only. kube-proxy raises it at start when it is below what it wants (131072 or 32768 per CPU),
and fails when it cannot. On this machine the default is large enough that kube-proxy would never
try, so the lab sets the smaller value many Proxmox hosts have; the failure operators hit then
happens for real in the lab's containers. `down` restores the value found before.

Example:

    lower_conntrack_max(); restore_conntrack_max()
"""

from __future__ import annotations

from pathlib import Path

from topology import STATE_DIR

SYSCTL = Path("/proc/sys/net/netfilter/nf_conntrack_max")
LAB_VALUE = 65536
SAVED = STATE_DIR / "nf_conntrack_max.orig"


def lower_conntrack_max() -> None:
    if not SYSCTL.exists():
        return
    current = int(SYSCTL.read_text())
    if current == LAB_VALUE:
        return
    SAVED.parent.mkdir(parents=True, exist_ok=True)
    if not SAVED.exists():
        SAVED.write_text(f"{current}\n")
    SYSCTL.write_text(f"{LAB_VALUE}\n")


def restore_conntrack_max() -> None:
    if SAVED.exists() and SYSCTL.exists():
        SYSCTL.write_text(SAVED.read_text())
        SAVED.unlink()
