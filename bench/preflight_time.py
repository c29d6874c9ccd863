"""Benchmark: wall time of ``pyinfra -y inventory.py preflight.py`` on the lab's 4 hosts, over SSH
and over pct, next to pyinfra's floor on the same hosts (connect and run one command:
``pyinfra -y inventory.py exec -- true``), and the lab pct calls each run makes.

    .venv/bin/python bench/preflight_time.py [--rounds 5]

Prints a Markdown table for docs/OPERATIONS.md (median and best of the rounds). Needs `make lab-up`.
Other lab users' pct calls during a run would be counted too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB = REPO / "lab"
sys.path.insert(0, str(LAB))
from pct_cli import CALL_LOG  # noqa: E402

INVENTORIES = {"ssh": LAB / "inventory-ssh.yml", "pct": LAB / "inventory-pct.yml"}
COMMANDS = {"preflight": ["preflight.py"], "floor": ["exec", "--", "true"]}


def pct_calls() -> int:
    return len(CALL_LOG.read_text().splitlines()) if CALL_LOG.exists() else 0


def timed_run(inventory: Path, arguments: list[str]) -> tuple[float, int]:
    """Seconds of one pyinfra run and the pct calls it made."""
    env = {**os.environ, "K3S_INVENTORY": str(inventory), "PATH": f"{REPO}/.venv/bin:{os.environ['PATH']}"}
    calls = pct_calls()
    start = time.perf_counter()
    subprocess.run([str(REPO / ".venv/bin/pyinfra"), "-y", "inventory.py", *arguments], cwd=REPO, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    return time.perf_counter() - start, pct_calls() - calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    print("| connector | run | median s | best s | pct calls per run |")
    print("|---|---|---|---|---|")
    for connector, inventory in INVENTORIES.items():
        for name, arguments in COMMANDS.items():
            results = [timed_run(inventory, arguments) for _ in range(rounds)]
            seconds = [result[0] for result in results]
            calls = max(result[1] for result in results) if connector == "pct" else 0
            print(f"| {connector} | {name} | {statistics.median(seconds):.2f} | {min(seconds):.2f} | {calls} |")


if __name__ == "__main__":
    main()
