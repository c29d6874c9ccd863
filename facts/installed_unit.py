"""Who wrote a k3s unit file already on a host, and the flags of its ``ExecStart``, read there with
python3 so that flag values (a ``--token`` given on the command line) never leave the host."""

from __future__ import annotations

import json
import shlex
from typing import TypedDict

from pyinfra.api import FactBase

from facts.names import SYSTEMD_DIR

# The first line of every unit the deploy writes.
MANAGED_HEADER = "# Managed by k3s-lxc-resilience"

_READ = r"""
import json, shlex, sys
try:
    text = open(sys.argv[1]).read()
except OSError:
    print(json.dumps({"writer": "none", "flags": []})); sys.exit(0)
joined = text.replace("\\\n", " ")
line = next((l for l in joined.splitlines() if l.startswith("ExecStart=")), "ExecStart=")
words = shlex.split(line[len("ExecStart="):])
flags = [w.split("=", 1)[0] for w in words[2:] if w.startswith("-")]
print(json.dumps({"writer": "deploy" if text.startswith(sys.argv[2]) else "other", "flags": flags}))
"""


class InstalledUnit(TypedDict):
    """``writer``: ``deploy`` (ours), ``other`` (the upstream installer or an operator), ``none``;
    ``flags``: the flag names after ``k3s server``/``k3s agent`` in its ``ExecStart``."""

    writer: str
    flags: list[str]


class InstalledK3sUnit(FactBase[InstalledUnit]):
    """
    The k3s unit file in ``/etc/systemd/system``: who wrote it and which flags its ExecStart passes.

    .. code:: python

        host.get_fact(InstalledK3sUnit, unit="k3s.service")
        {"writer": "other", "flags": ["--disable", "--node-label"]}
    """

    def command(self, unit: str) -> str:
        return (f"python3 -c {shlex.quote(_READ)} {shlex.quote(f'{SYSTEMD_DIR}/{unit}')} "
                f"{shlex.quote(MANAGED_HEADER)}")

    def process(self, output: list[str]) -> InstalledUnit:
        found = json.loads(output[-1])
        return InstalledUnit(writer=found["writer"], flags=list(found["flags"]))
