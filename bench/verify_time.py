"""Benchmark: how long ``pytest verify/`` takes on the lab, as a whole process (interpreter start,
imports, every check), over SSH and over pct.

    .venv/bin/python bench/verify_time.py [--runs 10]

Each run must pass (the lab deployed and settled). Prints one Markdown row per inventory with the
minimum, median and maximum wall seconds and the check count, for docs/OPERATIONS.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INVENTORIES = {"ssh": REPO / "lab/inventory-ssh.yml", "pct": REPO / "lab/inventory-pct.yml"}


def timed_run(inventory: Path) -> tuple[float, int]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pytest", "verify/", "--inventory", str(inventory), "-q",
                             "-p", "no:cacheprovider"], cwd=REPO, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - started
    passed = re.search(r"(\d+) passed", result.stdout)
    if result.returncode != 0 or not passed:
        raise SystemExit(f"bench: verify failed over {inventory.name}:\n{result.stdout[-2000:]}")
    return took, int(passed.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print("| connection | checks | runs | min s | median s | max s |")
    print("|---|---|---|---|---|---|")
    for connection, inventory in INVENTORIES.items():
        timings = [timed_run(inventory) for _ in range(args.runs)]
        seconds = [took for took, _ in timings]
        print(f"| {connection} | {timings[0][1]} | {args.runs} | {min(seconds):.2f} | "
              f"{statistics.median(seconds):.2f} | {max(seconds):.2f} |", flush=True)


if __name__ == "__main__":
    main()
