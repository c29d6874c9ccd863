"""Benchmark: one command run N times in a row; each run's exit status and time, and the first
failure's last lines. The main command must be green every time, so one failure fails the bench.

    .venv/bin/python bench/repeat.py --runs 20 -- make demo
    .venv/bin/python bench/repeat.py --runs 20 -- make restart-test INVENTORY=lab/inventory-pct.yml \
        RESTART_DATA="--data restart_mode=container"

Prints one JSON line per run and a summary line (``--log-dir DIR`` keeps every run's output); the runs are written to
bench/results/repeat-<label>.json (``--label``, default the command's words joined by dashes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take")
    parser.add_argument("--label", default="")
    parser.add_argument("--log-dir", type=Path, help="keep each run's whole output as DIR/run-N.log "
                        "(a slow green run says why only there)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    label = args.label or "-".join(word.replace("/", "_") for word in command)[:80]
    rows = []
    for number in range(1, args.runs + 1):
        started = time.monotonic()
        try:
            result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=args.timeout)
            status, tail = result.returncode, (result.stdout + result.stderr).splitlines()[-15:]
            if args.log_dir:
                args.log_dir.mkdir(parents=True, exist_ok=True)
                (args.log_dir / f"run-{number}.log").write_text(result.stdout + result.stderr)
        except subprocess.TimeoutExpired:
            status, tail = "timeout", []
        row = {"run": number, "exit": status, "seconds": round(time.monotonic() - started, 1)}
        rows.append(row)
        print(json.dumps(row if status == 0 else {**row, "tail": tail}), flush=True)
    (REPO / "bench/results").mkdir(exist_ok=True)
    (REPO / f"bench/results/repeat-{label}.json").write_text(json.dumps(rows, indent=2))
    seconds = [row["seconds"] for row in rows]
    green = sum(row["exit"] == 0 for row in rows)
    print(f"{label}: {green} of {len(rows)} green; seconds min {min(seconds)} median {statistics.median(seconds)} "
          f"max {max(seconds)}")
    if green < len(rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
