"""The preflight's conclusions from recorded facts: each check's state, the blocking rows, the
config entries the deploy writes, the Proxmox conf rows and the table's shape."""

from pathlib import Path

import pytest

from facts.preflight import Preflight
from facts.proxmox_lxc import ProxmoxLxc
from tasks.preflight_checks import (
    blocking,
    check_apparmor,
    check_capabilities,
    check_cgroup_controllers,
    check_cgroup_version,
    check_conntrack,
    check_devices,
    check_kernel_config,
    check_kmsg,
    check_propagation,
    check_snapshotter,
    check_swap,
    evaluate,
    format_table,
    k3s_config_fixes,
    node_module_checks,
    proxmox_checks,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "preflight"
K3S_LINES = [
    "arch: amd64",
    "lxc.apparmor.profile: unconfined",
    "lxc.cgroup2.devices.allow: c 10:200 rwm",
    "lxc.cgroup2.devices.allow: a",
    "lxc.cap.drop:",
    'lxc.mount.auto: "proc:rw sys:rw"',
]


def report(name: str):
    return Preflight().process((FIXTURES / f"{name}.txt").read_text().splitlines())


def test_healthy_vm_passes_every_check():
    assert {check.state for check in evaluate(report("vm-ext4-v2-healthy"))} == {"ok"}


def test_healthy_vm_needs_no_config_fix():
    assert k3s_config_fixes(report("vm-ext4-v2-healthy")) == {}


def test_lab_blocks_only_on_missing_cpu_cgroups():
    assert [check.name for check in blocking(evaluate(report("lab-overlay-hybrid-pct")))] == ["cgroup controllers"]


def test_lab_over_ssh_and_over_pct_conclude_the_same():
    assert evaluate(report("lab-overlay-hybrid-ssh")) == evaluate(report("lab-overlay-hybrid-pct"))


def test_lab_config_fixes_are_conntrack_and_native_snapshotter():
    assert k3s_config_fixes(report("lab-overlay-hybrid-ssh")) == {
        "kube-proxy-arg": ["conntrack-max-per-core=0"], "snapshotter": "native"}


def test_zfs_root_gets_native_snapshotter():
    assert k3s_config_fixes(report("pve-zfs-v2-confined"))["snapshotter"] == "native"


def test_btrfs_root_with_fuse_overlayfs_gets_fuse_overlayfs():
    assert k3s_config_fixes(report("pve-btrfs-v2-unconfined"))["snapshotter"] == "fuse-overlayfs"


def test_ext4_root_keeps_the_default_snapshotter():
    assert "snapshotter" not in k3s_config_fixes(report("pve6-ext4-v1-nomemory"))


def test_read_only_conntrack_gets_conntrack_max_per_core_zero():
    assert k3s_config_fixes(report("pve6-ext4-v1-nomemory")) == {"kube-proxy-arg": ["conntrack-max-per-core=0"]}


def test_no_report_means_no_fixes():
    assert k3s_config_fixes(None) == {}


def test_read_only_conntrack_is_fixed_by_the_deploy():
    assert check_conntrack(report("lab-overlay-hybrid-ssh")).state == "fixed"


def test_read_only_conntrack_names_kube_proxys_error():
    assert "open /proc/sys/net/netfilter/nf_conntrack_max: permission denied" in check_conntrack(
        report("lab-overlay-hybrid-ssh")).breaks


def test_missing_conntrack_file_warns_and_still_gets_the_fix():
    missing = {**report("vm-ext4-v2-healthy"), "conntrack": "missing"}
    assert (check_conntrack(missing).state, k3s_config_fixes(missing)) == (
        "warn", {"kube-proxy-arg": ["conntrack-max-per-core=0"]})


def test_snapshotter_row_quotes_k3s():
    assert check_snapshotter(report("pve-zfs-v2-confined")).breaks.startswith(
        '"overlayfs" snapshotter cannot be enabled for "/var/lib/rancher/k3s/agent/containerd"')


def test_unknown_filesystem_warns():
    assert check_snapshotter({**report("vm-ext4-v2-healthy"), "containerd_fstype": "nfs4"}).state == "warn"


def test_missing_kmsg_is_fixed_by_the_units_exec_start_pre():
    assert check_kmsg(report("pve-zfs-v2-confined")).state == "fixed"


def test_kmsg_link_is_ok():
    assert check_kmsg(report("lab-overlay-hybrid-ssh")).state == "ok"


def test_private_root_is_fixed_by_make_rshared():
    assert check_propagation(report("pve-zfs-v2-confined")).fix.endswith("mount --make-rshared /")


def test_shared_root_is_ok():
    assert check_propagation(report("pve-btrfs-v2-unconfined")).state == "ok"


def test_missing_boot_config_warns_with_pct_push():
    check = check_kernel_config(report("pve-zfs-v2-confined"))
    assert (check.state, check.fix.split(" (")[0]) == (
        "warn", "on the Proxmox node: pct push <vmid> /boot/config-6.8.12-4-pve /boot/config-6.8.12-4-pve")


def test_proc_config_gz_stands_in_for_boot_config():
    assert check_kernel_config(report("lab-overlay-hybrid-ssh")).state == "ok"


def test_enforcing_apparmor_profile_blocks():
    assert check_apparmor(report("pve-zfs-v2-confined")).state == "fail"


def test_enforcing_apparmor_fix_is_the_conf_line():
    assert "lxc.apparmor.profile: unconfined" in check_apparmor(report("pve-zfs-v2-confined")).fix


def test_complain_mode_apparmor_warns():
    assert check_apparmor(report("pve6-ext4-v1-nomemory")).state == "warn"


@pytest.mark.parametrize("fixture", ["pve-btrfs-v2-unconfined", "lab-overlay-hybrid-ssh"])
def test_unconfined_or_absent_apparmor_is_ok(fixture):
    assert check_apparmor(report(fixture)).state == "ok"


def test_cgroup_v1_warns():
    assert check_cgroup_version(report("pve6-ext4-v1-nomemory")).state == "warn"


def test_cgroup_v2_is_ok():
    assert check_cgroup_version(report("pve-zfs-v2-confined")).state == "ok"


def test_v1_without_memory_blocks_with_kubelets_message():
    assert check_cgroup_controllers(report("pve6-ext4-v1-nomemory")).breaks == (
        'kubelet: "Failed to start ContainerManager" err="system validation failed - '
        'Following Cgroup subsystem not mounted: [memory]"')


def test_v2_without_cpuset_blocks_with_k3s_message():
    no_cpuset = {**report("pve-zfs-v2-confined"), "cgroup_controllers": ["cpu", "io", "memory", "pids"]}
    assert check_cgroup_controllers(no_cpuset).breaks == "k3s: failed to find cpuset cgroup (v2)"


def test_v2_without_pids_warns():
    no_pids = {**report("pve-zfs-v2-confined"), "cgroup_controllers": ["cpuset", "cpu", "io", "memory"]}
    assert check_cgroup_controllers(no_pids).state == "warn"


def test_proxmox_default_cap_drop_passes():
    assert check_capabilities(report("pve-zfs-v2-confined")).state == "ok"


def test_lab_without_sys_resource_warns():
    assert check_capabilities(report("lab-overlay-hybrid-ssh")).detail.endswith("no CAP_SYS_RESOURCE")


def test_dropped_sys_admin_blocks():
    no_sys_admin = {**report("vm-ext4-v2-healthy"), "cap_bounding": 0x1FFFFFFFFFF & ~(1 << 21)}
    assert check_capabilities(no_sys_admin).detail.endswith("missing CAP_SYS_ADMIN")


def test_v1_devices_cgroup_with_a_short_list_warns():
    assert check_devices(report("lab-overlay-hybrid-ssh")).state == "warn"


def test_v1_devices_cgroup_allowing_all_is_ok():
    assert check_devices(report("pve6-ext4-v1-nomemory")).state == "ok"


def test_swap_warns():
    assert check_swap(report("pve-btrfs-v2-unconfined")).state == "warn"


def test_conf_with_the_k3s_lines_is_ok():
    assert proxmox_checks(111, K3S_LINES).state == "ok"


def test_conf_lines_in_a_snapshot_section_do_not_count():
    assert proxmox_checks(111, ["arch: amd64", "[before-k3s]", *K3S_LINES[1:]]).state == "warn"


def test_later_cap_drop_line_overrides_the_empty_one():
    assert "lxc.cap.drop" in proxmox_checks(111, [*K3S_LINES, "lxc.cap.drop: sys_module"]).detail


def test_lab_conf_names_every_missing_line():
    conf = ProxmoxLxc().process((FIXTURES / "proxmox-lab-node.txt").read_text().splitlines())["confs"][111]
    assert proxmox_checks(111, conf).fix == (
        "add to /etc/pve/lxc/111.conf: lxc.apparmor.profile: unconfined | lxc.cgroup2.devices.allow: a"
        ' | lxc.cap.drop: | lxc.mount.auto: "proc:rw sys:rw"')


def test_missing_conf_warns():
    assert proxmox_checks(999, None).state == "warn"


def test_missing_node_module_warns():
    assert [check.state for check in node_module_checks({"overlay": True, "br_netfilter": False})] == ["ok", "warn"]


def test_table_summary_counts_each_state():
    lines = format_table(evaluate(report("pve-zfs-v2-confined")))
    assert lines[0] == "preflight: 11 checks, 1 fail, 1 warn, 4 fixed by the deploy"
