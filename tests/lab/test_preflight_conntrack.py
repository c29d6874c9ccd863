"""The read-only ``nf_conntrack_max`` end to end on the lab: a worker whose k3s config lacks
``kube-proxy-arg: [conntrack-max-per-core=0]`` exits with kube-proxy's real message, preflight names
the cause and the fix, and the deploy writes the entry back so the node is Ready again.

The lab's containers fail another check (cgroup v1 hierarchies cpu/cpuacct are not mounted), so the
deploy here runs with ``preflight_continue: true``: this test is about the conntrack fix alone.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.lab.helpers import LAB, run_pyinfra, ssh

CONTROL_IP, WORKER, WORKER_IP = "10.213.0.101", "k3s-worker-2", "10.213.0.112"
CONFIG = "/etc/rancher/k3s/config.yaml"
MESSAGE = "kube-proxy exited: open /proc/sys/net/netfilter/nf_conntrack_max: permission denied"
DROP_ENTRY = (
    "python3 -c \"import yaml; p='" + CONFIG + "'; c=yaml.safe_load(open(p)); c.pop('kube-proxy-arg'); "
    "open(p, 'w').write(yaml.safe_dump(c))\" && systemctl restart k3s-agent"
)


@dataclass(frozen=True)
class Scenario:
    journal: str
    preflight: str
    config_after_deploy: str
    ready_after_deploy: str


def wait_for(command: str, ip: str, done, deadline: float) -> str:
    end = time.monotonic() + deadline
    while True:
        output = ssh(ip, command).stdout
        if done(output) or time.monotonic() > end:
            return output
        time.sleep(2)


def ready_status() -> str:
    return ssh(CONTROL_IP, f"k3s kubectl get node {WORKER} --request-timeout=5s "
               "-o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}'").stdout


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, lab_inventory_ssh: Path) -> Scenario:
    inventory = yaml.safe_load(lab_inventory_ssh.read_text())
    inventory["data"]["preflight_continue"] = True
    inventory["secrets_file"] = str(LAB / inventory["secrets_file"])
    path = tmp_path_factory.mktemp("preflight") / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    deployed = run_pyinfra(path, "deploy.py")
    assert deployed.returncode == 0, deployed.stdout[-3000:]

    since = ssh(WORKER_IP, "date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    ssh(WORKER_IP, DROP_ENTRY)
    journal = wait_for(f"journalctl -u k3s-agent --no-pager --since '{since}'", WORKER_IP,
                       lambda output: MESSAGE in output, deadline=60)
    preflight = run_pyinfra(path, "preflight.py").stdout
    redeploy = run_pyinfra(path, "deploy.py")
    assert redeploy.returncode == 0, redeploy.stdout[-3000:]
    end = time.monotonic() + 180
    while ready_status() != "True" and time.monotonic() < end:
        time.sleep(2)
    return Scenario(journal, preflight, ssh(WORKER_IP, f"cat {CONFIG}").stdout, ready_status())


def test_agent_without_the_entry_exits_with_kube_proxys_message(scenario: Scenario):
    assert MESSAGE in scenario.journal


def test_preflight_names_the_read_only_file(scenario: Scenario):
    assert re.search(rf"\[{WORKER}\]\s+fixed\s+nf_conntrack_max\s+read-only", scenario.preflight)


def test_preflight_names_the_config_entry_as_the_fix(scenario: Scenario):
    assert re.search(rf"\[{WORKER}\]\s+fix:\s+config.yaml \(deploy\): kube-proxy-arg: \[conntrack-max-per-core=0\]",
                     scenario.preflight)


def test_deploy_writes_the_entry_back(scenario: Scenario):
    assert yaml.safe_load(scenario.config_after_deploy)["kube-proxy-arg"] == ["conntrack-max-per-core=0"]


def test_node_is_ready_again(scenario: Scenario):
    assert scenario.ready_after_deploy == "True"
