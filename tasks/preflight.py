"""Preflight: find what would break k3s in each LXC container before the deploy touches it.

Runs while the deploy is prepared, so the table is printed before any change and the report is
there for ``k3s_config_fixes()``. A k3s host with a blocking failure is stopped by the first
operation of the deploy (the other hosts go on), unless its data says ``preflight_continue: true``.
On ``proxmox_hosts`` it prints the conf lines and kernel modules the k3s containers need. With
several servers, the first one's table warns when two etcd members share a Proxmox node.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host, inventory, logger
from pyinfra.api import FunctionCommand, deploy, operation

from facts.host_before import host_before
from facts.names import K3S_UNITS
from facts.preflight import PreflightReport
from facts.proxmox_lxc import ProxmoxLxc
from tasks.control_plane import first_server, servers
from tasks.preflight_checks import (
    Check,
    blocking,
    etcd_spread_check,
    evaluate,
    format_table,
    node_module_checks,
    proxmox_checks,
)
from tasks.settings import flag, one_of


def log_table(checks: list[Check]) -> None:
    """The table under the host's prefix; its summary line is red when the host would fail."""
    summary, *rows = format_table(checks)
    if blocking(checks):
        host.log_styled(summary, fg="red", log_func=logger.error)
    else:
        host.log_styled(summary, fg="yellow" if any(check.state == "warn" for check in checks) else "green")
    for row in rows:
        host.log(row)


def _refuse(state: Any, host: Any, reasons: list[str]) -> bool:
    """Log why and report failure, which removes this host from the run (pyinfra's own rule).
    pyinfra passes ``state`` and ``host`` to a callback whose parameters carry those names."""
    for reason in reasons:
        host.log_styled(f"preflight: {reason}", fg="red", log_func=logger.error)
    return False


@operation(is_idempotent=False)
def stop_host(reasons: list[str]) -> Generator[Any, None, None]:
    """
    Fail this host, with ``reasons`` in the log, so no later operation touches it.

    + reasons: one line each

    **Example:**

    .. code:: python

        stop_host(name="Preflight: stop", reasons=["cgroup controllers: missing cpu cpuacct"])
    """
    yield FunctionCommand(_refuse, (reasons,), {})


def k3s_containers_on_this_node() -> list[int]:
    members = inventory.get_group("k3s_control", []) + inventory.get_group("k3s_workers", [])
    return [member.data.pct_vmid for member in members if member.data.get("pct_node") == host.data.node_name]


@deploy("Preflight")
def preflight() -> PreflightReport | None:
    """
    Print the preflight table of this host; stop a k3s host that would fail. Returns the k3s
    host's report (``None`` elsewhere) for ``k3s_config_fixes``.

    **Example:**

    .. code:: python

        report = preflight()
        config = config_files(extra=k3s_config_fixes(report))
    """
    if host.data.get("k3s_role"):
        go_on = flag("preflight_continue")
        # with what the later readers need of the host before the deploy, in the same command
        report = host_before(K3S_UNITS[one_of("k3s_role")])["preflight"]
        checks = evaluate(report)
        spread = etcd_spread_check([(member.data.node_name, member.data.get("pct_node")) for member in servers()])
        if spread is not None and host == first_server():
            checks.append(spread)
        log_table(checks)
        failures = blocking(checks)
        if failures and not go_on:
            stop_host(
                name="Preflight: stop before k3s would fail",
                reasons=[f"{check.name}: {check.detail}; fix: {check.fix}" for check in failures],
            )
        return report
    if host in inventory.get_group("proxmox_hosts", []):
        vmids = k3s_containers_on_this_node()
        node = host.get_fact(ProxmoxLxc, vmids=vmids)
        containers = [proxmox_checks(vmid, node["confs"].get(vmid)) for vmid in vmids]
        log_table(node_module_checks(node["modules"]) + containers)
    return None
