"""k3s_lxc_settings: given the Proxmox node's confs, the commands that add the k3s lines and the kernel config."""

from __future__ import annotations

from typing import Any

from tasks.proxmox_lxc import K3S_LXC_LINES, ManagedContainer, k3s_lxc_settings
from tests.unit.operation_outputs import run

COMPLETE = ["arch: amd64", "features: nesting=1,keyctl=1", *(f"{key}: {value}".rstrip() for key, value in K3S_LXC_LINES)]


def pct_lxc(conf: list[str], boot_config_in_container: bool = True) -> dict[str, Any]:
    return {"PctLxc": {"release": "6.8.12-4-pve", "host_has_boot_config": True, "confs": {111: conf},
                       "boot_config_in_container": {111: boot_config_in_container}}}


def container(restart: bool = False) -> list[ManagedContainer]:
    return [ManagedContainer(vmid=111, wanted=K3S_LXC_LINES, restart=restart)]


def test_a_conf_without_the_lines_is_replaced_through_a_staged_copy_without_chmod():
    commands, _ = run(k3s_lxc_settings, facts=pct_lxc(["arch: amd64"]), containers=container())
    assert commands == [
        "mkdir -p /etc/pve/lxc",
        ["upload", "\n".join(COMPLETE) + "\n", "/etc/pve/lxc/.111.conf.new"],
        "mv -f /etc/pve/lxc/.111.conf.new /etc/pve/lxc/111.conf",
    ]


def test_the_diff_is_logged_before_the_write():
    _, host = run(k3s_lxc_settings, facts=pct_lxc(["arch: amd64"]), containers=container())
    assert "+lxc.apparmor.profile: unconfined" in host.logged


def test_a_container_that_asked_for_it_is_rebooted_after_a_change():
    commands, _ = run(k3s_lxc_settings, facts=pct_lxc(["arch: amd64"]), containers=container(restart=True))
    assert commands[-1] == "pct reboot 111"


def test_a_missing_kernel_config_is_pushed_into_the_container():
    commands, _ = run(k3s_lxc_settings, facts=pct_lxc(COMPLETE, boot_config_in_container=False),
                      containers=container())
    assert commands == ["pct push 111 /boot/config-6.8.12-4-pve /boot/config-6.8.12-4-pve"]


def test_a_complete_container_is_a_noop():
    commands, host = run(k3s_lxc_settings, facts=pct_lxc(COMPLETE), containers=container())
    assert (commands, host.noop_description) == ([], "containers 111 have their k3s settings")


def test_a_conf_this_node_does_not_have_is_not_created():
    commands, host = run(k3s_lxc_settings, facts=pct_lxc([], boot_config_in_container=False), containers=container())
    assert (commands, host.logged) == ([], ["/etc/pve/lxc/111.conf not found on this node: vmid 111 is not here "
                                            "(migrated? check its pct.node); left alone"])
