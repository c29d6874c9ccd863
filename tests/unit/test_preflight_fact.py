"""Preflight.process and ProxmoxLxc.process on recorded outputs: the lab (over SSH and pct) and
realistic Proxmox/VM hosts on zfs, btrfs, ext4 and overlay roots."""

from pathlib import Path

import pytest

from facts.preflight import Preflight, mount_of, parse_mountinfo
from facts.proxmox_lxc import ProxmoxLxc

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "preflight"


def report(name: str):
    return Preflight().process((FIXTURES / f"{name}.txt").read_text().splitlines())


@pytest.mark.parametrize(
    ("fixture", "root"),
    [
        ("pve-zfs-v2-confined", "zfs"),
        ("pve-btrfs-v2-unconfined", "btrfs"),
        ("vm-ext4-v2-healthy", "ext4"),
        ("pve6-ext4-v1-nomemory", "ext4"),
        ("lab-overlay-hybrid-ssh", "overlay"),
        ("lab-overlay-hybrid-pct", "overlay"),
    ],
)
def test_root_filesystem_type_is_read_from_mountinfo(fixture, root):
    assert report(fixture)["root_fstype"] == root


def test_containerd_filesystem_is_the_deepest_mount_above_its_data_dir():
    assert report("vm-ext4-v2-healthy")["containerd_fstype"] == "xfs"


@pytest.mark.parametrize(
    ("fixture", "propagation"),
    [("pve-zfs-v2-confined", "private"), ("pve-btrfs-v2-unconfined", "shared"), ("lab-overlay-hybrid-ssh", "shared")],
)
def test_root_propagation_comes_from_the_optional_fields(fixture, propagation):
    assert report(fixture)["root_propagation"] == propagation


def test_slave_root_is_reported_as_slave():
    line = "29 1 254:1 / / rw,relatime master:1 - ext4 /dev/sda1 rw"
    assert parse_mountinfo([line])[0]["propagation"] == "slave"


def test_escaped_mount_points_are_decoded():
    line = r"40 29 0:40 / /mnt/my\040disk rw - ext4 /dev/sdb1 rw"
    assert mount_of("/mnt/my disk/x", parse_mountinfo([line]))["fstype"] == "ext4"


@pytest.mark.parametrize(
    ("fixture", "label"),
    [("pve-zfs-v2-confined", "lxc-container-default-cgns (enforce)"), ("pve-btrfs-v2-unconfined", "unconfined"),
     ("lab-overlay-hybrid-ssh", "")],
)
def test_apparmor_label_of_pid_1(fixture, label):
    assert report(fixture)["apparmor_label"] == label


def test_cgroup_v2_controllers_come_from_cgroup_controllers():
    assert report("pve-zfs-v2-confined")["cgroup_controllers"] == [
        "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]


def test_cgroup2_at_sys_fs_cgroup_is_v2():
    assert report("vm-ext4-v2-healthy")["cgroup_version"] == "v2"


def test_cgroup_v1_with_unified_mount_is_hybrid():
    assert report("pve6-ext4-v1-nomemory")["cgroup_version"] == "hybrid"


def test_cgroup_v1_controllers_are_the_mounted_hierarchies():
    assert report("pve6-ext4-v1-nomemory")["cgroup_controllers"] == [
        "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "net_cls", "net_prio", "pids"]


def test_lab_mounts_no_cpu_or_cpuacct_hierarchy():
    assert report("lab-overlay-hybrid-pct")["cgroup_controllers"] == [
        "blkio", "cpuset", "devices", "freezer", "memory", "pids"]


def test_capability_bounding_set_is_read_as_hex():
    assert report("lab-overlay-hybrid-ssh")["cap_bounding"] == 0x1FCFCFCFFFF


@pytest.mark.parametrize(
    ("fixture", "state"), [("lab-overlay-hybrid-ssh", "readonly"), ("vm-ext4-v2-healthy", "writable")])
def test_conntrack_writability(fixture, state):
    assert report(fixture)["conntrack"] == state


@pytest.mark.parametrize(
    ("fixture", "kind", "target"),
    [("pve-zfs-v2-confined", "missing", ""), ("lab-overlay-hybrid-ssh", "link", "/dev/console"),
     ("vm-ext4-v2-healthy", "char", "")],
)
def test_kmsg_state(fixture, kind, target):
    assert (report(fixture)["kmsg"], report(fixture)["kmsg_target"]) == (kind, target)


def test_missing_boot_config_is_reported():
    assert report("pve-zfs-v2-confined")["boot_config"] is False


def test_swap_devices_and_size():
    assert (report("pve-btrfs-v2-unconfined")["swap_devices"], report("pve-btrfs-v2-unconfined")["swap_kb"]) == (
        1, 524284)


def test_fuse_overlayfs_and_dev_fuse():
    assert (report("pve-btrfs-v2-unconfined")["fuse_overlayfs"], report("pve-btrfs-v2-unconfined")["dev_fuse"]) == (
        "/usr/bin/fuse-overlayfs", True)


@pytest.mark.parametrize(
    ("fixture", "devices"),
    [("lab-overlay-hybrid-pct", "limited"), ("pve6-ext4-v1-nomemory", "all"), ("pve-zfs-v2-confined", "unknown")],
)
def test_devices_cgroup_state(fixture, devices):
    assert report(fixture)["devices"] == devices


def node_state():
    return ProxmoxLxc().process((FIXTURES / "proxmox-lab-node.txt").read_text().splitlines())


def test_proxmox_conf_lines_are_kept_per_vmid():
    assert node_state()["confs"][111][2] == "hostname: k3s-worker-1"


def test_proxmox_missing_conf_is_none():
    assert node_state()["confs"][999] is None


def test_proxmox_node_modules():
    assert node_state()["modules"] == {"overlay": True, "br_netfilter": False}
