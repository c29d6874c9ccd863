"""Everything k3s needs from an LXC container, read in one command: ``/dev/kmsg``, whether
``nf_conntrack_max`` is writable, the filesystems under ``/`` and containerd's data, ``/``
propagation, the kernel config file, the AppArmor label of PID 1, cgroups, the capability
bounding set, swap and fuse-overlayfs.
"""

from __future__ import annotations

import re
from typing import TypedDict

from pyinfra.api import FactBase

from facts.sections import split_sections

MOUNTINFO_MARKER = "--- mountinfo"
CONTAINERD_ROOT = "/var/lib/rancher/k3s/agent/containerd"
CONNTRACK_MAX = "/proc/sys/net/netfilter/nf_conntrack_max"
V1_NON_CONTROLLER_OPTIONS = frozenset({"rw", "ro", "noprefix", "xattr", "clone_children", "cpuset_v2_mode"})
MOUNTINFO_ESCAPE = re.compile(r"\\([0-7]{3})")

# Writing the value just read back is the only way to tell a writable sysctl from one that a
# read-only /proc/sys mount or the kernel's per-netns rule refuses; the same value changes nothing.
COMMAND = f"""\
if [ -L /dev/kmsg ]; then
  if [ -e /dev/kmsg ]; then echo "KMSG=link $(readlink /dev/kmsg)"; else echo "KMSG=dangling $(readlink /dev/kmsg)"; fi
elif [ -c /dev/kmsg ]; then echo KMSG=char
elif [ -e /dev/kmsg ]; then echo KMSG=other
else echo KMSG=missing; fi
f={CONNTRACK_MAX}
if [ ! -e $f ]; then echo CONNTRACK=missing
elif [ -w $f ] && v=$(cat $f) && (echo "$v" > $f) 2>/dev/null; then echo CONNTRACK=writable
else echo CONNTRACK=readonly; fi
echo "CONNTRACK_MAX=$(cat $f 2>/dev/null)"
r=$(uname -r)
echo "KERNEL_RELEASE=$r"
if [ -e "/boot/config-$r" ]; then echo BOOT_CONFIG=yes; else echo BOOT_CONFIG=no; fi
if [ -e /proc/config.gz ]; then echo PROC_CONFIG_GZ=yes; else echo PROC_CONFIG_GZ=no; fi
if [ -e /proc/1/attr/apparmor/current ]; then a=$(cat /proc/1/attr/apparmor/current 2>/dev/null)
else a=$(cat /proc/1/attr/current 2>/dev/null); fi
echo "APPARMOR_LABEL=$a"
echo "APPARMOR_ENABLED=$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)"
echo "CGROUP2_CONTROLLERS=$(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)"
awk '/^CapBnd:/ {{print "CAPBND=" $2}}' /proc/1/status
awk 'NR > 1 {{n++; kb += $3}} END {{print "SWAP_DEVICES=" n + 0; print "SWAP_KB=" kb + 0}}' /proc/swaps
echo "FUSE_OVERLAYFS=$(command -v fuse-overlayfs)"
if [ -c /dev/fuse ]; then echo DEV_FUSE=yes; else echo DEV_FUSE=no; fi
d=/sys/fs/cgroup/devices/devices.list
if [ ! -r $d ]; then echo DEVICES=unknown
elif grep -qxF 'a *:* rwm' $d; then echo DEVICES=all
else echo DEVICES=limited; fi
echo '{MOUNTINFO_MARKER}'
cat /proc/self/mountinfo"""


class PreflightReport(TypedDict):
    """What one host offers k3s; ``cgroup_version`` is ``v2``, ``hybrid`` or ``v1``; ``devices``
    is ``all`` or ``limited`` from the v1 devices controller, ``unknown`` on v2 (a BPF filter)."""

    kmsg: str
    kmsg_target: str
    conntrack: str
    conntrack_max: str
    kernel_release: str
    boot_config: bool
    proc_config_gz: bool
    apparmor_label: str
    apparmor_enabled: bool
    root_fstype: str
    root_propagation: str
    containerd_fstype: str
    cgroup_version: str
    cgroup_controllers: list[str]
    cap_bounding: int
    swap_devices: int
    swap_kb: int
    fuse_overlayfs: str
    dev_fuse: bool
    devices: str


class Mount(TypedDict):
    mount_point: str
    fstype: str
    propagation: str
    super_options: list[str]


def parse_mountinfo(lines: list[str]) -> list[Mount]:
    """``/proc/self/mountinfo`` lines in order; propagation is ``shared``, ``slave`` or ``private``."""
    mounts = []
    for line in lines:
        before, separator, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if not separator or len(fields) < 6 or len(tail) < 3:
            continue
        optional = fields[6:]
        if any(tag.startswith("shared:") for tag in optional):
            propagation = "shared"
        elif any(tag.startswith("master:") for tag in optional):
            propagation = "slave"
        else:
            propagation = "private"
        mounts.append(
            Mount(
                mount_point=MOUNTINFO_ESCAPE.sub(lambda match: chr(int(match[1], 8)), fields[4]),
                fstype=tail[0],
                propagation=propagation,
                super_options=tail[2].split(","),
            )
        )
    return mounts


def mount_of(path: str, mounts: list[Mount]) -> Mount | None:
    """The mount that holds ``path``: the longest mount point above it, the last one mounted there."""
    best: Mount | None = None
    for mount in mounts:
        point = mount["mount_point"].rstrip("/") + "/"
        if (path.rstrip("/") + "/").startswith(point) and (
            best is None or len(mount["mount_point"]) >= len(best["mount_point"])
        ):
            best = mount
    return best


def cgroup_layout(mounts: list[Mount], v2_controllers: str) -> tuple[str, list[str]]:
    """The cgroup version kubelet sees (``/sys/fs/cgroup`` itself cgroup2 means v2) and its controllers."""
    cgroup_root = mount_of("/sys/fs/cgroup", mounts)
    if cgroup_root and cgroup_root["fstype"] == "cgroup2" and cgroup_root["mount_point"] == "/sys/fs/cgroup":
        return "v2", v2_controllers.split()
    v1 = sorted(
        {
            option
            for mount in mounts
            if mount["fstype"] == "cgroup"
            for option in mount["super_options"]
            if option not in V1_NON_CONTROLLER_OPTIONS and not option.startswith(("name=", "release_agent="))
        }
    )
    hybrid = any(mount["fstype"] == "cgroup2" for mount in mounts)
    return ("hybrid" if hybrid else "v1"), v1


class Preflight(FactBase[PreflightReport]):
    """
    What a k3s host offers k3s, read in one command (the checks are in ``tasks/preflight_checks``).

    .. code:: python

        host.get_fact(Preflight)
        {"kmsg": "link", "kmsg_target": "/dev/console", "conntrack": "readonly",
         "conntrack_max": "65536", "kernel_release": "6.8.12-4-pve", "boot_config": False,
         "proc_config_gz": False, "apparmor_label": "unconfined", "apparmor_enabled": True,
         "root_fstype": "zfs", "root_propagation": "shared", "containerd_fstype": "zfs",
         "cgroup_version": "v2", "cgroup_controllers": ["cpuset", "cpu", "io", "memory", "pids"],
         "cap_bounding": 0x1ffffffffff, "swap_devices": 0, "swap_kb": 0,
         "fuse_overlayfs": "", "dev_fuse": False, "devices": "unknown"}
    """

    def command(self) -> str:
        return COMMAND

    def process(self, output: list[str]) -> PreflightReport:
        sections = split_sections(output, MOUNTINFO_MARKER)
        values = dict(line.partition("=")[::2] for line in sections[""])
        mounts = parse_mountinfo(sections.get(MOUNTINFO_MARKER, []))
        root = mount_of("/", mounts)
        containerd = mount_of(CONTAINERD_ROOT, mounts)
        version, controllers = cgroup_layout(mounts, values.get("CGROUP2_CONTROLLERS", ""))
        kmsg, _, kmsg_target = values["KMSG"].partition(" ")
        return PreflightReport(
            kmsg=kmsg,
            kmsg_target=kmsg_target,
            conntrack=values["CONNTRACK"],
            conntrack_max=values.get("CONNTRACK_MAX", ""),
            kernel_release=values.get("KERNEL_RELEASE", ""),
            boot_config=values.get("BOOT_CONFIG") == "yes",
            proc_config_gz=values.get("PROC_CONFIG_GZ") == "yes",
            apparmor_label=values.get("APPARMOR_LABEL", "").strip("\x00").strip(),
            apparmor_enabled=values.get("APPARMOR_ENABLED") == "Y",
            root_fstype=root["fstype"] if root else "",
            root_propagation=root["propagation"] if root else "",
            containerd_fstype=containerd["fstype"] if containerd else "",
            cgroup_version=version,
            cgroup_controllers=controllers,
            cap_bounding=int(values.get("CAPBND") or "0", 16),
            swap_devices=int(values.get("SWAP_DEVICES") or 0),
            swap_kb=int(values.get("SWAP_KB") or 0),
            fuse_overlayfs=values.get("FUSE_OVERLAYFS", ""),
            dev_fuse=values.get("DEV_FUSE") == "yes",
            devices=values.get("DEVICES", "unknown"),
        )
