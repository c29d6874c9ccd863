"""k3s_binary: given the installed binary's digest, the commands that stage, verify and move the pinned one."""

from __future__ import annotations

import shlex

from tasks.k3s_binary import _DOWNLOAD, K3S_BIN, k3s_binary
from tests.unit.operation_outputs import host_state, run

SHA = "a" * 64
CHECK = (f"echo '{SHA}  /usr/local/bin/.k3s.new' | sha256sum -c --quiet "
         "|| { rm -f /usr/local/bin/.k3s.new; echo 'k3s binary sha256 mismatch' >&2; exit 1; }")
MOVE = "chmod 755 /usr/local/bin/.k3s.new && mv -f /usr/local/bin/.k3s.new /usr/local/bin/k3s"


def test_a_local_binary_is_uploaded_beside_the_old_one_checked_then_moved():
    commands, _ = run(k3s_binary, facts=host_state(files={K3S_BIN: None}), data={"k3s_binary_src": "/srv/k3s"},
                      sha256=SHA)
    assert commands == ["mkdir -p /usr/local/bin", ["upload", "/srv/k3s", "/usr/local/bin/.k3s.new"], CHECK, MOVE]


def test_a_url_is_downloaded_on_the_host_then_checked_then_moved():
    data = {"k3s_binary_url": "https://example.net/k3s", "k3s_sha256": SHA}
    commands, _ = run(k3s_binary, facts=host_state(files={K3S_BIN: {"mode": "755", "sha256": "b" * 64}}), data=data,
                      sha256=SHA)
    # python3, not curl: Proxmox's debian-12-standard template has no curl
    assert commands == ["mkdir -p /usr/local/bin",
                        f"python3 -c {shlex.quote(_DOWNLOAD)} https://example.net/k3s /usr/local/bin/.k3s.new",
                        CHECK, MOVE]


def test_the_binary_must_be_the_release_k3s_version_names():
    data = {"k3s_binary_src": "/srv/k3s", "k3s_version": "v1.31.4+k3s1"}
    commands, _ = run(k3s_binary, facts=host_state(files={}), data=data, sha256=SHA)
    assert (commands[-2].startswith("chmod 755 /usr/local/bin/.k3s.new && /usr/local/bin/.k3s.new --version | head -n 1 "
                                    "| grep -qF 'k3s version v1.31.4+k3s1 '"), commands[-1]) == (True, MOVE)


def test_a_binary_with_the_wrong_mode_is_reinstalled():
    facts = host_state(files={K3S_BIN: {"mode": "644", "sha256": SHA}})
    assert run(k3s_binary, facts=facts, data={"k3s_binary_src": "/srv/k3s"}, sha256=SHA)[0][-1] == MOVE


def test_the_pinned_binary_is_a_noop():
    commands, host = run(k3s_binary, facts=host_state(files={K3S_BIN: {"mode": "755", "sha256": SHA}}),
                         data={"k3s_binary_src": "/srv/k3s"}, sha256=SHA)
    assert (commands, host.noop_description) == ([], f"k3s binary {SHA[:12]} is installed")
