"""What the preflight concludes from a host's ``Preflight`` fact: one row per check with its state,
what breaks (the message k3s or a component prints) and the fix, and the config entries the deploy
writes itself. Pure logic, no pyinfra state.

States: ``ok``; ``fixed`` (broken as found, the deploy fixes it: a k3s config entry or a line of
its k3s unit); ``warn`` (k3s runs, something degrades); ``fail`` (k3s or its pods cannot run;
the deploy stops on that host unless ``preflight_continue: true``).

Example:

    checks = evaluate(report)
    blocking(checks)            # the failing rows
    k3s_config_fixes(report)    # {"kube-proxy-arg": ["conntrack-max-per-core=0"], "snapshotter": "native"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from facts.names import KMSG_EXEC_START_PRE
from facts.preflight import CONNTRACK_MAX, CONTAINERD_ROOT, PreflightReport
from facts.proxmox_lxc import K3S_LXC_LINES

OK, FIXED, WARN, FAIL = "ok", "fixed", "warn", "fail"
CONNTRACK_FIX = {"kube-proxy-arg": ["conntrack-max-per-core=0"]}
# Filesystems that overlayfs cannot use as its upper layer in the kernels Proxmox ships.
NO_OVERLAY_UPPER = frozenset({"zfs", "btrfs", "overlay"})
OVERLAY_UPPER_OK = frozenset({"ext4", "ext3", "ext2", "xfs", "tmpfs", "f2fs"})
V1_KUBELET_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory")
V2_K3S_CONTROLLERS = ("cpu", "cpuset", "memory")
# What runc gives every container by default, plus what k3s itself needs (mounts, iptables).
REQUIRED_CAPS = {
    0: "CAP_CHOWN", 1: "CAP_DAC_OVERRIDE", 3: "CAP_FOWNER", 4: "CAP_FSETID", 5: "CAP_KILL",
    6: "CAP_SETGID", 7: "CAP_SETUID", 8: "CAP_SETPCAP", 10: "CAP_NET_BIND_SERVICE",
    12: "CAP_NET_ADMIN", 13: "CAP_NET_RAW", 18: "CAP_SYS_CHROOT", 21: "CAP_SYS_ADMIN",
    27: "CAP_MKNOD", 29: "CAP_AUDIT_WRITE", 31: "CAP_SETFCAP",
}
WANTED_CAPS = {24: "CAP_SYS_RESOURCE"}
V2_CONTROLLER_FIX = (
    "on the Proxmox node: enable the controllers in the kernel (e.g. cgroup_enable=memory) and in "
    "/sys/fs/cgroup/cgroup.subtree_control, so LXC delegates them to the container"
)
V1_CONTROLLER_FIX = (
    "mount each missing v1 hierarchy in the container (mount -t cgroup -o <controller> cgroup "
    "/sys/fs/cgroup/<controller>); LXC skips hierarchies laid out unlike it expects, e.g. cpu "
    "and cpuacct mounted apart on the node"
)
PVE_CONF = "/etc/pve/lxc/<vmid>.conf"


@dataclass(frozen=True)
class Check:
    """One row of the preflight table; ``breaks`` and ``fix`` are empty for an ``ok`` row."""

    name: str
    state: str
    detail: str
    breaks: str = ""
    fix: str = ""


def snapshotter_fix(report: PreflightReport) -> dict[str, str]:
    """``snapshotter`` for config.yaml when overlayfs cannot work on containerd's filesystem."""
    if report["containerd_fstype"] not in NO_OVERLAY_UPPER:
        return {}
    usable_fuse = report["fuse_overlayfs"] and report["dev_fuse"]
    return {"snapshotter": "fuse-overlayfs" if usable_fuse else "native"}


def k3s_config_fixes(report: PreflightReport | None) -> dict[str, Any]:
    """The config.yaml entries the deploy writes because of what preflight found (none for ``None``)."""
    if report is None:
        return {}
    fixes: dict[str, Any] = {}
    if report["conntrack"] != "writable":
        fixes.update(CONNTRACK_FIX)
    fixes.update(snapshotter_fix(report))
    return fixes


def check_kmsg(report: PreflightReport) -> Check:
    if report["kmsg"] in ("char", "link"):
        detail = f"link to {report['kmsg_target']}" if report["kmsg"] == "link" else "character device"
        return Check("/dev/kmsg", OK, detail)
    return Check(
        "/dev/kmsg", FIXED, f"{report['kmsg']} {report['kmsg_target']}".strip(),
        breaks="Error: failed to run Kubelet: failed to create kubelet: open /dev/kmsg: no such file or directory",
        fix=f"k3s unit (deploy): ExecStartPre={KMSG_EXEC_START_PRE}",
    )


def check_conntrack(report: PreflightReport) -> Check:
    name, value = "nf_conntrack_max", report["conntrack_max"]
    breaks = f'k3s: level=fatal msg="kube-proxy exited: open {CONNTRACK_MAX}: permission denied"'
    fix = "config.yaml (deploy): kube-proxy-arg: [conntrack-max-per-core=0]"
    if report["conntrack"] == "writable":
        return Check(name, OK, f"writable ({value})")
    if report["conntrack"] == "readonly":
        return Check(name, FIXED, f"read-only in this network namespace ({value})", breaks=breaks, fix=fix)
    return Check(
        name, WARN, "missing: nf_conntrack is not loaded on the Proxmox node",
        breaks=f"kube-proxy: open {CONNTRACK_MAX}: no such file or directory; Service NAT needs conntrack",
        fix=f"{fix}; on the node: modprobe nf_conntrack and list it in /etc/modules-load.d/k3s.conf",
    )


def check_snapshotter(report: PreflightReport) -> Check:
    fstype = report["containerd_fstype"]
    name, detail = "containerd filesystem", f"{fstype} under {CONTAINERD_ROOT} (/ is {report['root_fstype']})"
    fix = snapshotter_fix(report)
    if fix:
        return Check(
            name, FIXED, detail,
            breaks=f'"overlayfs" snapshotter cannot be enabled for "{CONTAINERD_ROOT}", '
            'try using "fuse-overlayfs" or "native"',
            fix=f"config.yaml (deploy): snapshotter: {fix['snapshotter']}",
        )
    if fstype in OVERLAY_UPPER_OK:
        return Check(name, OK, detail)
    return Check(
        name, WARN, detail + ": overlayfs on it is untested",
        breaks=f'possibly: "overlayfs" snapshotter cannot be enabled for "{CONTAINERD_ROOT}"',
        fix="inventory data k3s_config: {snapshotter: native} if k3s reports it",
    )


def check_propagation(report: PreflightReport) -> Check:
    propagation = report["root_propagation"]
    if propagation == "shared":
        return Check("/ propagation", OK, "shared")
    return Check(
        "/ propagation", FIXED, propagation,
        breaks='pods with Bidirectional/HostToContainer mounts: path "/var/lib/kubelet/pods/..." '
        'is mounted on "/" but it is not a shared mount',
        fix="k3s unit (deploy): ExecStartPre=-/bin/mount --make-rshared /",
    )


def check_kernel_config(report: PreflightReport) -> Check:
    name, path = "kernel config", f"/boot/config-{report['kernel_release']}"
    if report["boot_config"]:
        return Check(name, OK, path)
    if report["proc_config_gz"]:
        return Check(name, OK, f"no {path}; /proc/config.gz is readable")
    return Check(
        name, WARN, f"no {path}, no /proc/config.gz",
        breaks="nothing fatal: kubelet only warns, `k3s check-config` and kube-proxy's IPVS module "
        "check cannot read which kernel features are built in",
        fix=f"on the Proxmox node: pct push <vmid> {path} {path} "
        "(the deploy's Proxmox task does it with proxmox_lxc_manage: true)",
    )


def check_apparmor(report: PreflightReport) -> Check:
    label = report["apparmor_label"]
    fix = f"{PVE_CONF}: lxc.apparmor.profile: unconfined (then restart the container)"
    if not label:
        return Check("AppArmor", OK, "no AppArmor in this kernel")
    if label == "unconfined":
        return Check("AppArmor", OK, "PID 1 unconfined")
    if label.endswith("(complain)"):
        return Check("AppArmor", WARN, f"PID 1 {label}", breaks="denials are logged, not enforced", fix=fix)
    if label.endswith(")"):
        return Check(
            "AppArmor", FAIL, f"PID 1 {label}",
            breaks='runc create failed: ... error mounting "proc" to rootfs at "/proc": ... permission denied '
            "(every pod sandbox fails)",
            fix=fix,
        )
    return Check("AppArmor", OK, f"PID 1 {label} (not an AppArmor label)")


def check_cgroup_version(report: PreflightReport) -> Check:
    version = report["cgroup_version"]
    if version == "v2":
        return Check("cgroup version", OK, "v2 (unified)")
    return Check(
        "cgroup version", WARN, f"{version} (cgroup v1 controllers)",
        breaks="cgroup v1 is in maintenance mode; kubelet 1.35+ refuses to start on it unless failCgroupV1=false",
        fix="boot the Proxmox node with the unified hierarchy (PVE 7+ default; drop "
        "systemd.unified_cgroup_hierarchy=0 from the kernel command line)",
    )


def check_cgroup_controllers(report: PreflightReport) -> Check:
    present = set(report["cgroup_controllers"])
    detail = " ".join(report["cgroup_controllers"]) or "none"
    if report["cgroup_version"] == "v2":
        missing = [controller for controller in V2_K3S_CONTROLLERS if controller not in present]
        breaks = f"k3s: failed to find {missing[0]} cgroup (v2)" if missing else ""
    else:
        missing = [controller for controller in V1_KUBELET_CONTROLLERS if controller not in present]
        breaks = (
            f'kubelet: "Failed to start ContainerManager" err="system validation failed - '
            f'Following Cgroup subsystem not mounted: [{" ".join(missing)}]"'
        )
    if missing:
        return Check(
            "cgroup controllers", FAIL, f"{detail}; missing {' '.join(missing)}", breaks=breaks,
            fix=V2_CONTROLLER_FIX if report["cgroup_version"] == "v2" else V1_CONTROLLER_FIX,
        )
    if "pids" not in present:
        return Check(
            "cgroup controllers", WARN, f"{detail}; no pids",
            breaks="pod PID limits (podPidsLimit) are not enforced", fix="enable the pids controller on the node",
        )
    return Check("cgroup controllers", OK, detail)


def check_capabilities(report: PreflightReport) -> Check:
    bounding = report["cap_bounding"]
    missing = [name for bit, name in REQUIRED_CAPS.items() if not bounding >> bit & 1]
    fix = f"{PVE_CONF}: lxc.cap.drop: (empty: keep every capability)"
    if missing:
        return Check(
            "capabilities", FAIL, f"CapBnd {bounding:#x}; missing {' '.join(missing)}",
            breaks="runc create failed: unable to start container process: ... "
            "unable to apply caps: operation not permitted",
            fix=fix,
        )
    lacking = [name for bit, name in WANTED_CAPS.items() if not bounding >> bit & 1]
    if lacking:
        return Check(
            "capabilities", WARN, f"CapBnd {bounding:#x}; no {' '.join(lacking)}",
            breaks="kubelet: failed to apply oom score -999 ...: write /proc/<pid>/oom_score_adj: permission denied "
            "(kubelet and containerd may be OOM-killed before pods)",
            fix=fix,
        )
    return Check("capabilities", OK, f"CapBnd {bounding:#x}")


def check_devices(report: PreflightReport) -> Check:
    if report["devices"] == "all":
        return Check("device access", OK, "every device allowed")
    if report["devices"] == "unknown":
        return Check("device access", OK, "not readable on cgroup v2; see the Proxmox conf row")
    return Check(
        "device access", WARN, "the container's devices cgroup allows a short list",
        breaks='privileged pods: runc create failed: ... failed to write "a *:* rwm": '
        "write /sys/fs/cgroup/devices/.../devices.allow: operation not permitted",
        fix=f"{PVE_CONF}: lxc.cgroup.devices.allow: a (cgroup v1; lxc.cgroup2.devices.allow: a on v2)",
    )


def check_swap(report: PreflightReport) -> Check:
    if not report["swap_devices"]:
        return Check("swap", OK, "off")
    return Check(
        "swap", WARN, f"{report['swap_devices']} device(s), {report['swap_kb']} KiB",
        breaks="k3s runs kubelet with fail-swap-on=false; memory limits and evictions ignore swap",
        fix=f"{PVE_CONF}: swap: 0",
    )


CHECKS = (
    check_kmsg, check_conntrack, check_snapshotter, check_propagation, check_kernel_config,
    check_apparmor, check_cgroup_version, check_cgroup_controllers, check_devices, check_capabilities,
    check_swap,
)


def evaluate(report: PreflightReport) -> list[Check]:
    """Every check's row for one k3s host, in table order."""
    return [check(report) for check in CHECKS]


def blocking(checks: list[Check]) -> list[Check]:
    return [check for check in checks if check.state == FAIL]


# Keys whose every line counts (LXC appends them); for the others the last line wins.
MULTI_VALUED = frozenset({"lxc.cgroup2.devices.allow"})


def main_section(conf: list[str]) -> dict[str, list[str]]:
    """A Proxmox conf's values per key, in file order, before its first ``[snapshot]`` section."""
    entries: dict[str, list[str]] = {}
    for line in conf:
        if line.startswith("["):
            break
        key, separator, value = line.partition(":")
        if separator and not line.startswith("#"):
            entries.setdefault(key.strip(), []).append(value.strip().strip('"'))
    return entries


def proxmox_checks(vmid: int, conf: list[str] | None) -> Check:
    """The row for one container's ``/etc/pve/lxc/<vmid>.conf``: the lines k3s in LXC needs."""
    name, path = f"{vmid}.conf", f"/etc/pve/lxc/{vmid}.conf"
    if conf is None:
        return Check(name, WARN, f"{path} not found on this node", fix="check the host's pct.vmid and pct.node")
    entries = main_section(conf)
    missing = []
    for key, value in K3S_LXC_LINES:
        values, wanted = entries.get(key, []), value.strip('"')
        if not (wanted in values if key in MULTI_VALUED else values[-1:] == [wanted]):
            missing.append(f"{key}: {value}".rstrip())
    if not missing:
        return Check(name, OK, "has the k3s lines")
    return Check(
        name, WARN, f"lacks {', '.join(line.partition(':')[0] for line in missing)}",
        breaks="see the container's own rows (AppArmor, capabilities, cgroups, nf_conntrack_max)",
        fix=f"add to {path}: " + " | ".join(missing),
    )


def node_module_checks(modules: Mapping[str, bool]) -> list[Check]:
    """Rows for the Proxmox node's kernel modules k3s needs (they cannot be loaded from a container)."""
    breaks = {
        "overlay": '"overlayfs" snapshotter cannot be enabled ... failed to mount overlay',
        "br_netfilter": "k3s: Failed to load kernel module br_netfilter with modprobe; "
        "pod-to-Service traffic on the same node bypasses iptables",
    }
    return [
        Check(f"module {module}", OK, "loaded")
        if loaded
        else Check(
            f"module {module}", WARN, "not loaded", breaks=breaks.get(module, ""),
            fix=f"on the node: modprobe {module}; echo {module} >> /etc/modules-load.d/k3s.conf",
        )
        for module, loaded in modules.items()
    ]


def format_table(checks: list[Check]) -> list[str]:
    """The table as lines: a summary, one line per check, then what breaks and the fix under it."""
    counts = {state: sum(check.state == state for check in checks) for state in (FAIL, WARN, FIXED)}
    lines = [
        f"preflight: {len(checks)} checks, {counts[FAIL]} fail, {counts[WARN]} warn, "
        f"{counts[FIXED]} fixed by the deploy"
    ]
    width = max(len(check.name) for check in checks)
    for check in checks:
        lines.append(f"  {check.state:<5}  {check.name:<{width}}  {check.detail}")
        if check.breaks:
            lines.append(f"  {'':<5}  {'':<{width}}  breaks: {check.breaks}")
        if check.fix:
            lines.append(f"  {'':<5}  {'':<{width}}  fix:    {check.fix}")
    return lines


def etcd_spread_check(servers: list[tuple[str, str | None]]) -> Check | None:
    """A warning row when two or more etcd members (servers, ``(node_name, pct_node)``) are containers
    on one Proxmox node: that node's reboot takes them down together, and with them etcd's quorum
    (with three members, two). ``None`` for a lone server or members spread out.

    Example:
        etcd_spread_check([("a", "pve1"), ("b", "pve1"), ("c", "pve2")]).detail
        == "a, b on Proxmox node pve1"
    """
    if len(servers) < 2:
        return None
    by_node: dict[str, list[str]] = {}
    for name, node in servers:
        if node:
            by_node.setdefault(node, []).append(name)
    shared = [f"{', '.join(names)} on Proxmox node {node}" for node, names in sorted(by_node.items()) if len(names) > 1]
    if not shared:
        return None
    return Check("etcd members spread", WARN, "; ".join(shared),
                 breaks=f"one Proxmox node's reboot stops those members together: quorum needs {len(servers) // 2 + 1} "
                        f"of {len(servers)}",
                 fix="move the containers to different Proxmox nodes (pct migrate / HA groups)")
