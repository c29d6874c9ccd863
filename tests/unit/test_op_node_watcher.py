"""node_watcher: given the watcher's files and timer, the commands that install it and keep the timer on."""

from __future__ import annotations

from typing import Any

from tasks.desired_files import text_file
from tasks.node_watcher import node_watcher
from tests.unit.operation_outputs import host_state, run

SCRIPT = text_file("/usr/local/bin/k3s-node-watcher", "#!/usr/bin/python3\n", mode="755")
TIMER = text_file("/etc/systemd/system/k3s-node-watcher.timer", "[Timer]\n")
FILES = [SCRIPT, TIMER]
INSTALLED = {desired.path: {"mode": desired.mode, "sha256": desired.sha256} for desired in FILES}
RELOAD = ("systemctl daemon-reload && systemctl enable k3s-node-watcher.timer"
          " && systemctl restart k3s-node-watcher.timer")


def timer_state(files: dict[str, Any], active: str = "active", enabled: str = "enabled") -> dict[str, Any]:
    return host_state(files=files, units={
        "k3s-node-watcher.timer": {"ActiveState": [active], "UnitFileState": [enabled]},
        "k3s-node-watcher.service": {"Result": ["success"], "ExecMainStatus": ["0"]}})


def test_a_fresh_install_writes_the_files_then_reloads_and_restarts_the_timer():
    commands, _ = run(node_watcher, facts=timer_state({SCRIPT.path: None, TIMER.path: None}, "inactive", ""),
                      files=FILES)
    assert commands == [
        "mkdir -p /usr/local/bin",
        ["upload", "#!/usr/bin/python3\n", "/usr/local/bin/.k3s-node-watcher.new"],
        "chmod 755 /usr/local/bin/.k3s-node-watcher.new && mv -f /usr/local/bin/.k3s-node-watcher.new"
        " /usr/local/bin/k3s-node-watcher",
        "mkdir -p /etc/systemd/system",
        ["upload", "[Timer]\n", "/etc/systemd/system/.k3s-node-watcher.timer.new"],
        "chmod 644 /etc/systemd/system/.k3s-node-watcher.timer.new && mv -f"
        " /etc/systemd/system/.k3s-node-watcher.timer.new /etc/systemd/system/k3s-node-watcher.timer",
        RELOAD,
    ]


def test_a_changed_script_alone_needs_no_systemctl():
    files = {**INSTALLED, SCRIPT.path: {"mode": "755", "sha256": "0" * 64}}
    assert run(node_watcher, facts=timer_state(files), files=FILES)[0][-1] != RELOAD


def test_a_stopped_timer_is_enabled_and_started():
    assert run(node_watcher, facts=timer_state(INSTALLED, active="inactive"), files=FILES)[0] == \
        ["systemctl enable --now k3s-node-watcher.timer"]


def test_an_installed_active_watcher_is_a_noop():
    commands, host = run(node_watcher, facts=timer_state(INSTALLED), files=FILES)
    assert (commands, host.noop_description) == \
        ([], "k3s-node-watcher.service is installed and k3s-node-watcher.timer is active")
