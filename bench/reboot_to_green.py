"""Benchmark: time from ``pct reboot`` of k3s containers to ``pytest verify/`` green, on the lab.

    .venv/bin/python bench/reboot_to_green.py [--rounds 3] [--deadline 300]

Each round reboots one worker (``111``), then every k3s container at once (``101 111 112``), and
runs ``pytest verify/`` against the pct inventory again and again until it passes or the deadline
passes. The time reported is from the reboot command to the end of the first green verify run, so
its resolution is one verify run (a few seconds, also reported). Needs a deployed lab (`make demo`).
Prints one JSON line per round; all rounds are written to bench/results/reboot_to_green.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lab"))
from node_pct import pct_on_node  # noqa: E402

INVENTORY = REPO / "lab" / "inventory-pct.yml"
SCENARIOS = {"worker": ["111"], "all-k3s": ["101", "111", "112"]}


def verify_green() -> tuple[bool, float]:
    """One ``pytest verify/`` run; whether it passed and how long it took."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "verify/", "--inventory", str(INVENTORY), "-q", "-x",
         "-p", "no:cacheprovider"], cwd=REPO, capture_output=True, text=True, timeout=300)
    return result.returncode == 0, time.monotonic() - started


def reboot(vmids: list[str]) -> None:
    """``pct reboot`` the containers at the same time, each on its node (each call waits for its container)."""
    calls = [subprocess.Popen(pct_on_node("reboot", vmid)) for vmid in vmids]
    if any(call.wait(timeout=180) != 0 for call in calls):
        raise SystemExit(f"bench: pct reboot {' '.join(vmids)} failed")


def settled(deadline: float) -> None:
    """Wait until verify is green twice in a row (the previous round's reboot has settled)."""
    end, streak = time.monotonic() + deadline, 0
    while streak < 2:
        if time.monotonic() > end:
            raise SystemExit("bench: verify is not green before the reboot; deploy the lab first")
        streak = streak + 1 if verify_green()[0] else 0


def time_to_green(vmids: list[str], deadline: float) -> dict:
    settled(deadline)
    started = time.monotonic()
    reboot(vmids)
    runs, durations = 0, []
    while time.monotonic() - started < deadline:
        green, took = verify_green()
        runs, durations = runs + 1, durations + [took]
        if green:
            return {"green_after_s": round(time.monotonic() - started, 1), "verify_runs": runs,
                    "verify_run_s": round(min(durations), 1)}
        time.sleep(1)
    return {"green_after_s": None, "verify_runs": runs, "deadline_s": deadline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=300)
    args = parser.parse_args()
    rounds = []
    for number in range(1, args.rounds + 1):
        for scenario, vmids in SCENARIOS.items():
            row = {"round": number, "scenario": scenario, "vmids": vmids, **time_to_green(vmids, args.deadline)}
            rounds.append(row)
            print(json.dumps(row), flush=True)
    (REPO / "bench/results").mkdir(exist_ok=True)
    (REPO / "bench/results/reboot_to_green.json").write_text(json.dumps(rounds, indent=2))
    if any(row["green_after_s"] is None for row in rounds):
        raise SystemExit("bench: verify not green within the deadline after a reboot")


if __name__ == "__main__":
    main()
