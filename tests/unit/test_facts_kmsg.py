"""Kmsg: its parser, and its command run on this machine."""

import os
import subprocess

import pytest

from facts.kmsg import Kmsg


@pytest.mark.parametrize("line, expected", [
    ("link /dev/console", {"kind": "link", "target": "/dev/console"}),
    ("missing", {"kind": "missing", "target": ""}),
    ("char", {"kind": "char", "target": ""}),
])
def test_state_is_parsed(line, expected):
    assert Kmsg().process([line]) == expected


@pytest.mark.skipif(not os.path.exists("/dev/kmsg"), reason="this machine has no /dev/kmsg")
def test_command_sees_this_machines_kmsg():
    output = subprocess.run(["sh", "-c", Kmsg().command()], capture_output=True, text=True, check=True)
    expected = "link" if os.path.islink("/dev/kmsg") else "char"
    assert Kmsg().process(output.stdout.splitlines())["kind"] == expected
