"""The files whose content must pass a check or stay secret: HAProxy's config and Rancher's manifest."""

from __future__ import annotations

import hashlib

from facts.names import manifest_path
from tasks.haproxy import checked_config
from tasks.helm_chart import manifest_present
from tests.unit.operation_outputs import host_state, run

CONFIG = "global\n"
MANIFEST = "bootstrapPassword: s3cret-s3cret\n"


def test_haproxy_checks_the_staged_config_before_it_goes_live_then_reloads():
    facts = host_state(files={"/etc/haproxy/haproxy.cfg": None}, units={"haproxy.service": {"ActiveState": ["active"]}})
    assert run(checked_config, facts=facts, content=CONFIG)[0] == [
        "mkdir -p /etc/haproxy",
        ["upload", CONFIG, "/etc/haproxy/.haproxy.cfg.new"],
        "haproxy -c -f /etc/haproxy/.haproxy.cfg.new && chmod 644 /etc/haproxy/.haproxy.cfg.new"
        " && mv -f /etc/haproxy/.haproxy.cfg.new /etc/haproxy/haproxy.cfg",
        "systemctl reload haproxy",
    ]


def test_a_stopped_haproxy_is_not_reloaded():
    facts = host_state(files={"/etc/haproxy/haproxy.cfg": None}, units={"haproxy.service": {"ActiveState": ["inactive"]}})
    assert run(checked_config, facts=facts, content=CONFIG)[0][-1] != "systemctl reload haproxy"


def test_the_live_haproxy_config_is_a_noop():
    live = {"mode": "644", "sha256": hashlib.sha256(CONFIG.encode()).hexdigest()}
    commands, host = run(checked_config, facts=host_state(files={"/etc/haproxy/haproxy.cfg": live}), content=CONFIG)
    assert (commands, host.noop_description) == ([], "/etc/haproxy/haproxy.cfg is up to date")


def test_the_rancher_manifest_is_created_0600_in_a_0700_directory_before_its_content():
    path = manifest_path("rancher")
    commands, _ = run(manifest_present, facts=host_state(files={path: None}), path=path, content=MANIFEST)
    assert commands[0] == ("umask 077 && mkdir -p /var/lib/rancher/k3s/server/manifests"
                           " && install -m 600 /dev/null /var/lib/rancher/k3s/server/manifests/.rancher.yaml.new")


def test_the_bootstrap_password_is_never_on_a_command_line():
    path = manifest_path("rancher")
    commands, _ = run(manifest_present, facts=host_state(files={path: None}), path=path, content=MANIFEST)
    assert [command for command in commands if isinstance(command, str) and "s3cret" in command] == []
