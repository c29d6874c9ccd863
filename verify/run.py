"""verify/ run from a deploy: ``pytest verify/`` on this machine as a FunctionCommand body, its
summary table printed with the host's prefix.

Example:
    yield FunctionCommand(run_verify, ("lab/inventory-ssh.yml",), {})
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from pyinfra import logger
from pyinfra.api.host import Host
from pyinfra.api.state import State
from pyinfra.connectors.util import run_local_process

VERIFY_DIR = Path(__file__).resolve().parent


def run_verify(state: State, host: Host, inventory_file: str) -> bool:
    """Run ``pytest verify/`` on this machine; print its summary table."""
    command = [sys.executable, "-m", "pytest", str(VERIFY_DIR), "--inventory", inventory_file, "-q", "-p", "no:cacheprovider"]
    status, output = run_local_process(shlex.join(command))
    summary = output.stdout_lines
    start = next((index for index, line in enumerate(summary) if "verify summary" in line), len(summary))
    for line in summary[start:]:
        logger.info(f"{host.print_prefix}{line}")
    return status == 0
