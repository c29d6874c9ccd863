"""Benchmark: fresh deploy and no-op re-run of deploy.py, next to pyinfra's floor, in one run.

    .venv/bin/python bench/deploy_times.py [--inventory lab/inventory-ssh.yml] [--runs 5] [--fresh]

pyinfra's floor is `pyinfra -y inventory.py exec -- true` (connect to every host, one command).
The no-op re-run is deploy.py on the converged cluster; each must report no change. With --fresh the
k3s hosts are first wiped of everything the deploy installs (binary, config, units, watcher, the
cluster's data) and the fresh deploy is timed too — DESTRUCTIVE for whoever else uses the lab.
With the lab's pct, the calls it logs in /var/lib/k3s-lab/pct-calls.log are counted per run.
Prints a table and writes bench/results/deploy_times.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PCT_CALLS = Path("/var/lib/k3s-lab/pct-calls.log")
WIPE = (
    "systemctl disable --now k3s.service k3s-agent.service k3s-node-watcher.timer >/dev/null 2>&1; "
    "rm -rf /usr/local/bin/k3s /usr/local/bin/k3s-node-watcher /etc/rancher /var/lib/rancher "
    "/var/lib/k3s-lxc-resilience /var/lib/k3s-node-watcher /etc/default/k3s-node-watcher "
    "/etc/systemd/system/k3s.service /etc/systemd/system/k3s.service.d /etc/systemd/system/k3s-agent.service "
    "/etc/systemd/system/k3s-agent.service.d /etc/systemd/system/k3s-node-watcher.service "
    "/etc/systemd/system/k3s-node-watcher.timer; systemctl daemon-reload"
)


def pct_calls() -> int:
    return len(PCT_CALLS.read_text().splitlines()) if PCT_CALLS.exists() else 0


def pyinfra(inventory: Path, *args: str) -> dict[str, object]:
    """Run pyinfra once: wall seconds, exit status, changed-operation count, pct calls made."""
    env = {**os.environ, "K3S_INVENTORY": str(inventory), "PYTHONPATH": str(REPO)}
    calls = pct_calls()
    started = time.monotonic()
    result = subprocess.run([str(REPO / ".venv/bin/pyinfra"), "-y", "inventory.py", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
    seconds = time.monotonic() - started
    totals = re.search(r"Grand total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", result.stdout)
    if result.returncode != 0:
        raise RuntimeError(f"pyinfra {' '.join(args)} failed:\n{result.stdout[-3000:]}")
    return {"seconds": round(seconds, 3), "changed": totals.group(2) if totals else "-",
            "pct_calls": pct_calls() - calls}


def median(runs: list[dict[str, object]], key: str) -> float:
    return round(statistics.median(float(run[key]) for run in runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, default=REPO / "lab" / "inventory-ssh.yml")
    parser.add_argument("--deploy", default="deploy.py")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="wipe the k3s hosts first and time a fresh deploy")
    args = parser.parse_args()

    report: dict[str, object] = {"inventory": str(args.inventory), "deploy": args.deploy}
    if args.fresh:
        pyinfra(args.inventory, "--limit", "k3s_control", "--limit", "k3s_workers", "exec", "--", WIPE)
        report["fresh"] = pyinfra(args.inventory, args.deploy)
    else:
        pyinfra(args.inventory, args.deploy)
    floor = [pyinfra(args.inventory, "exec", "--", "true") for _ in range(args.runs)]
    noop = [pyinfra(args.inventory, args.deploy) for _ in range(args.runs)]
    report.update(
        floor_seconds=median(floor, "seconds"), floor_pct_calls=median(floor, "pct_calls"),
        noop_seconds=median(noop, "seconds"), noop_pct_calls=median(noop, "pct_calls"),
        noop_changed=sorted({str(run["changed"]) for run in noop}),
    )
    report["noop_over_floor"] = round(float(report["noop_seconds"]) / float(report["floor_seconds"]), 2)
    out = REPO / "bench" / "results" / "deploy_times.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    fresh = report.get("fresh", {})
    print("| measure | seconds | pct calls |\n|---|---|---|")
    if fresh:
        print(f"| fresh deploy | {fresh['seconds']} | {fresh['pct_calls']} |")
    print(f"| pyinfra floor (exec true, median of {args.runs}) | {report['floor_seconds']} | {report['floor_pct_calls']} |")
    print(f"| no-op re-run (median of {args.runs}; changed ops: {','.join(report['noop_changed'])}) | "
          f"{report['noop_seconds']} | {report['noop_pct_calls']} |")
    print(f"| no-op / floor | {report['noop_over_floor']}x | |")


if __name__ == "__main__":
    main()
