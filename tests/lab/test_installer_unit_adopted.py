"""A worker installed with k3s's install.sh (its unit, its .env file and the flags it was given) is
adopted, not replaced: with the default `k3s_unit_source: auto` the deploy adds only the kmsg drop-in,
the unit file stays byte for byte, its flag (`--node-label=adopted=true`) still takes effect, and a
second deploy changes nothing. The worker gets the deploy's own unit back afterwards."""

from __future__ import annotations

import json

import pytest

from tests.lab.helpers import changed_operations, in_container, kubectl, run_pyinfra, wait_ready_state

WORKER, VMID = "k3s-worker-1", "111"
UNIT = "/etc/systemd/system/k3s-agent.service"
DROP_IN = "/etc/systemd/system/k3s-agent.service.d/10-kmsg.conf"
SAVED = "/root/k3s-agent.service.deploy"
# As k3s-io/k3s install.sh writes the agent unit (create_systemd_service_file), given one flag.
INSTALLER_UNIT = r"""[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
EnvironmentFile=-/etc/systemd/system/k3s-agent.service.env
KillMode=process
Delegate=yes
User=root
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/k3s \
    agent \
	'--node-label=adopted=true' \

"""


def unit_sha() -> str:
    return in_container(VMID, f"sha256sum {UNIT}").stdout.decode().split()[0]


def labels() -> dict:
    return json.loads(kubectl("get", "node", WORKER, "-o", "json"))["metadata"].get("labels", {})


@pytest.fixture(scope="module")
def adopted(deployed_ssh, lab_inventory_ssh):
    """The worker switched to install.sh's unit, then deployed with the default unit source."""
    wait_ready_state(WORKER, True, deadline=180)
    in_container(VMID, f"cp {UNIT} {SAVED} && rm -f {DROP_IN} && cat > {UNIT} <<'EOF'\n{INSTALLER_UNIT}EOF\n"
                       "touch /etc/systemd/system/k3s-agent.service.env && systemctl daemon-reload "
                       "&& systemctl restart --no-block k3s-agent")
    wait_ready_state(WORKER, True, deadline=180)
    before = unit_sha()
    first = run_pyinfra(lab_inventory_ssh, "deploy.py")
    second = run_pyinfra(lab_inventory_ssh, "deploy.py")
    yield before, first, second
    in_container(VMID, f"mv -f {SAVED} {UNIT} && rm -f {DROP_IN} /etc/systemd/system/k3s-agent.service.env "
                       "&& systemctl daemon-reload && systemctl restart --no-block k3s-agent")
    wait_ready_state(WORKER, True, deadline=180)
    assert run_pyinfra(lab_inventory_ssh, "deploy.py").returncode == 0


def test_deploy_keeps_the_installers_unit_and_adds_the_drop_in(adopted):
    before, first, _ = adopted
    drop_in = in_container(VMID, f"cat {DROP_IN}").stdout.decode()
    assert (first.returncode, unit_sha(), "ln -sf /dev/console /dev/kmsg" in drop_in) == (0, before, True), \
        first.stdout[-3000:]


def test_the_installers_flag_still_takes_effect(adopted):
    wait_ready_state(WORKER, True, deadline=180)
    assert labels().get("adopted") == "true"


def test_second_deploy_changes_nothing(adopted):
    _, _, second = adopted
    assert (second.returncode, changed_operations(second.stdout)) == (0, []), second.stdout[-3000:]
