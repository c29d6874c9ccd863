"""Every k3s host runs its k3s unit with the /dev/kmsg fix, so a container restart cannot break the kubelet."""

from facts.names import KMSG_FIX
from verify.host_facts import DEV_KMSG

# How systemctl show prints the ExecStartPre the deploy writes (its "-" is ignore_errors).
SHOWN_KMSG_FIX = f"argv[]=/bin/bash -c {KMSG_FIX} ; ignore_errors=yes"


def test_unit_recreates_dev_kmsg_before_start(k3s_node, gathered):
    exec_start_pre = gathered.of(k3s_node).unit(f"{k3s_node.k3s_unit}.service", "ExecStartPre")
    assert SHOWN_KMSG_FIX in exec_start_pre, (
        f"{k3s_node.k3s_unit} on {k3s_node.name} has no effective kmsg ExecStartPre: "
        "re-run the deploy (pyinfra inventory.py deploy.py)"
    )


def test_dev_kmsg_exists(k3s_node, gathered):
    assert gathered.of(k3s_node).path(DEV_KMSG)["exists"], (
        f"/dev/kmsg is missing on {k3s_node.name}: restart {k3s_node.k3s_unit} (its ExecStartPre recreates it)"
    )


def test_k3s_service_is_active(k3s_node, gathered):
    state = gathered.of(k3s_node).unit(f"{k3s_node.k3s_unit}.service", "ActiveState")
    assert state == "active", (
        f"{k3s_node.k3s_unit} is {state} on {k3s_node.name}: see journalctl -u {k3s_node.k3s_unit}"
    )


def test_k3s_service_is_enabled(k3s_node, gathered):
    state = gathered.of(k3s_node).unit(f"{k3s_node.k3s_unit}.service", "UnitFileState")
    assert state == "enabled", (
        f"{k3s_node.k3s_unit} is {state or 'not installed'} on {k3s_node.name}, "
        "so it will not start after a reboot: re-run the deploy"
    )
