"""k3s_config: given the files' digests, the commands that write config.yaml and the token file."""

from __future__ import annotations

from tasks.desired_files import text_file
from tasks.k3s_config import CONFIG, TOKEN_FILE, k3s_config
from tests.unit.operation_outputs import host_state, run

FILES = [text_file(CONFIG, "node-name: k3s-worker-1\n", mode="600"),
         text_file(TOKEN_FILE, "K10secret\n", mode="600", secret=True)]
IN_PLACE = {desired.path: {"mode": "600", "sha256": desired.sha256} for desired in FILES}


def test_absent_files_are_staged_and_renamed_the_token_created_0600_first():
    commands, _ = run(k3s_config, facts=host_state(files={CONFIG: None, TOKEN_FILE: None}), files=FILES)
    assert commands == [
        "mkdir -p /etc/rancher/k3s",
        ["upload", "node-name: k3s-worker-1\n", "/etc/rancher/k3s/.config.yaml.new"],
        "chmod 600 /etc/rancher/k3s/.config.yaml.new && mv -f /etc/rancher/k3s/.config.yaml.new /etc/rancher/k3s/config.yaml",
        "umask 077 && mkdir -p /etc/rancher/k3s && install -m 600 /dev/null /etc/rancher/k3s/.token.new",
        ["upload", "K10secret\n", "/etc/rancher/k3s/.token.new"],
        "chmod 600 /etc/rancher/k3s/.token.new && mv -f /etc/rancher/k3s/.token.new /etc/rancher/k3s/token",
    ]


def test_the_token_is_never_on_a_command_line():
    commands, _ = run(k3s_config, facts=host_state(files={CONFIG: None, TOKEN_FILE: None}), files=FILES)
    assert [command for command in commands if isinstance(command, str) and "K10secret" in command] == []


def test_a_wrong_mode_alone_is_a_chmod():
    facts = host_state(files={**IN_PLACE, TOKEN_FILE: {"mode": "644", "sha256": FILES[1].sha256}})
    assert run(k3s_config, facts=facts, files=FILES)[0] == ["chmod 600 /etc/rancher/k3s/token"]


def test_files_in_place_are_a_noop():
    commands, host = run(k3s_config, facts=host_state(files=IN_PLACE), files=FILES)
    assert (commands, host.noop_description) == ([], "k3s config and token file are in place")
