"""Preflight on the lab, over SSH and over pct: a table per k3s host naming the fixes the deploy
writes (the containers' nf_conntrack_max is read-only, their root is overlay), hosts with a blocking
failure stopped while the others go on, and nothing changed on any host."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.lab.helpers import LAB, run_pyinfra, ssh
from topology import SSH_NODE

K3S_HOSTS = {
    "ssh": {"k3s-control": "10.213.0.101", "k3s-worker-1": "10.213.0.111", "k3s-worker-2": "10.213.0.112"},
    "pct": {"@pct/lab/101": "10.213.0.101", "@pct/lab/111": "10.213.0.111", f"@pct/{SSH_NODE}/112": "10.213.0.112"},
}
SUMMARY = re.compile(r"\[(?P<host>[^\]]+)\]\s+preflight: \d+ checks, (?P<fail>\d+) fail")
STOPPED = re.compile(r"\[(?P<host>[^\]]+)\]\s+Error: executed 0 commands")
UNCHANGED_STATE = "cat /proc/sys/net/netfilter/nf_conntrack_max; sha256sum /etc/rancher/k3s/config.yaml 2>&1"


def host_lines(output: str, host: str) -> list[str]:
    return [line for line in output.splitlines() if f"[{host}]" in line]


def host_state(ips: dict[str, str]) -> dict[str, str]:
    return {ip: ssh(ip, UNCHANGED_STATE).stdout for ip in ips.values()}


@dataclass(frozen=True)
class PreflightRun:
    output: str
    returncode: int
    before: dict[str, str]
    after: dict[str, str]


@pytest.fixture(scope="module", params=["ssh", "pct"])
def connector(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def run(connector: str, lab_inventory_ssh: Path, lab_inventory_pct: Path) -> PreflightRun:
    """One preflight run per connector, with the hosts' conntrack value and config digest around it."""
    before = host_state(K3S_HOSTS[connector])
    result = run_pyinfra(lab_inventory_ssh if connector == "ssh" else lab_inventory_pct, "preflight.py")
    return PreflightRun(result.stdout, result.returncode, before, host_state(K3S_HOSTS[connector]))


def test_every_k3s_host_prints_its_table(run, connector):
    assert {match["host"] for match in SUMMARY.finditer(run.output)} >= set(K3S_HOSTS[connector])


def test_read_only_conntrack_is_named_with_the_deploys_fix(run, connector):
    fixed = [host for host in K3S_HOSTS[connector]
             if any(re.search(r"fixed\s+nf_conntrack_max", line) for line in host_lines(run.output, host))]
    assert fixed == list(K3S_HOSTS[connector])


def test_fix_line_is_the_config_entry(run):
    assert "fix:    config.yaml (deploy): kube-proxy-arg: [conntrack-max-per-core=0]" in run.output


def test_overlay_root_gets_the_native_snapshotter(run):
    assert "fix:    config.yaml (deploy): snapshotter: native" in run.output


def test_haproxy_host_gets_no_k3s_table(run):
    assert not re.search(r"\[(haproxy|@pct/lab/121)\]\s+preflight:", run.output)


def test_stopped_hosts_are_exactly_those_with_a_failing_check(run):
    failing = {match["host"] for match in SUMMARY.finditer(run.output) if match["fail"] != "0"}
    assert {match["host"] for match in STOPPED.finditer(run.output)} == failing


def test_exit_status_tells_whether_a_host_was_stopped(run):
    assert (run.returncode != 0) == bool(STOPPED.search(run.output))


def test_preflight_changes_nothing(run):
    assert run.after == run.before


def test_each_proxmox_node_lists_its_k3s_containers_confs(lab_inventory_pct: Path):
    """Node lab is this machine (``@local``); node lab2 is its own host, named as in proxmox_hosts."""
    output = run_pyinfra(lab_inventory_pct, "preflight.py").stdout
    listed = {vmid: host for host in ("@local", SSH_NODE) for vmid in (101, 111, 112)
              if re.search(rf"\[{host}\]\s+\w+\s+{vmid}\.conf", output)}
    assert listed == {101: "@local", 111: "@local", 112: SSH_NODE}


def test_preflight_continue_lets_every_host_go_on(tmp_path: Path, lab_inventory_ssh: Path):
    inventory = yaml.safe_load(lab_inventory_ssh.read_text())
    inventory["data"]["preflight_continue"] = True
    inventory["secrets_file"] = str(LAB / inventory["secrets_file"])
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    result = run_pyinfra(path, "preflight.py")
    assert (result.returncode, STOPPED.search(result.stdout)) == (0, None), result.stdout[-2000:]
