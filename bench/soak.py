"""Soak: N rounds of faults chosen at random (with a seed) on the deployed lab; after each, the time
until ``pytest verify/`` is green with no human action, and whether anything acknowledged was lost.

    .venv/bin/python bench/soak.py [--rounds 30] [--seed 1] [--deadline 300]
    make soak SOAK_ARGS="--rounds 30 --seed 1"

Before each fault a namespace ``soak-<seed>-<round>`` is created through the API (the write is
acknowledged); after recovery every namespace made so far must still be there. The faults:

* ``worker-reboot``, ``control-reboot``, ``all-reboot``: ``pct reboot`` of one worker, of the control
  node, of every container (k3s and HAProxy) at once;
* ``agent-stopped``: ``systemctl stop k3s-agent`` on a worker (KillMode=process: its pods keep
  running, the node goes NotReady);
* ``kmsg-reboot``: ``/dev/kmsg`` removed, then the container rebooted (the units' fix recreates it);
* ``worker-stopped``: ``pct stop`` of a worker;
* ``k3s-killed``: ``systemctl kill -s KILL --kill-whom=main k3s`` a moment after the write;
* ``service-restart``: ``make restart-test`` (restart.py: every unit, one at a time, verify after).

"No human action": a fault that only repair heals (``agent-stopped``, ``worker-stopped``) is healed by
``repair.py -y`` run every ``--repair-every`` seconds, standing in for the opt-in repair timer
(``k3s-node-repair.timer``), which systemd cannot schedule on a lab host without systemd as PID 1.
Every round is bounded by ``--deadline``; the soak stops by itself after ``--rounds``. One JSON line
per round; the whole run in bench/results/soak.json; a summary per fault kind at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB = REPO / "lab"
sys.path.insert(0, str(LAB))
from node_pct import pct_on_node  # noqa: E402

INVENTORY = LAB / "inventory-pct.yml"
CONTROL, WORKERS, HAPROXY = "101", ("111", "112"), "121"
REPAIR_STATE = REPO / "bench" / "results" / "soak-repair-state.json"


def pct(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """The lab's pct on the container's node (112 is on lab2)."""
    return subprocess.run(pct_on_node(*args), capture_output=True, text=True, timeout=timeout)


def on_control(*command: str) -> subprocess.CompletedProcess:
    return pct("exec", CONTROL, "--", *command, timeout=60)


def kubectl(*args: str) -> subprocess.CompletedProcess:
    return on_control("k3s", "kubectl", "--request-timeout=10s", *args)


def write_marker(name: str, deadline: float) -> None:
    """Create the round's namespace; retried until the API acknowledges it (after a previous fault)."""
    end = time.monotonic() + deadline
    while kubectl("create", "namespace", name).returncode != 0:
        if kubectl("get", "namespace", name).returncode == 0:
            return
        if time.monotonic() > end:
            raise SystemExit(f"soak: the API did not acknowledge namespace {name} within {deadline}s")
        time.sleep(2)


def missing_markers(names: list[str]) -> list[str]:
    found = kubectl("get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}")
    present = set(found.stdout.split()) if found.returncode == 0 else set()
    return [name for name in names if name not in present]


def verify_green() -> bool:
    result = subprocess.run([sys.executable, "-m", "pytest", "verify/", "--inventory", str(INVENTORY), "-q", "-x",
                             "-p", "no:cacheprovider"], cwd=REPO, capture_output=True, text=True, timeout=300)
    return result.returncode == 0


def repair() -> int:
    environment = {**os.environ, "K3S_INVENTORY": str(INVENTORY)}
    return subprocess.run([sys.executable, "repair.py", "-y", "--data", f"repair_state_file={REPAIR_STATE}"],
                          cwd=REPO, env=environment, capture_output=True, text=True, timeout=600).returncode


def reboot(*vmids: str) -> None:
    calls = [subprocess.Popen(pct_on_node("reboot", vmid), stdout=subprocess.DEVNULL) for vmid in vmids]
    for call in calls:
        call.wait(timeout=180)


def kmsg_reboot(worker: str) -> None:
    pct("exec", worker, "--", "rm", "-f", "/dev/kmsg")
    reboot(worker)


def service_restart() -> None:
    environment = {**os.environ, "K3S_INVENTORY": str(INVENTORY)}
    subprocess.run([sys.executable, "-m", "pyinfra", "-y", "inventory.py", "restart.py", "--data", "restart_verify=false"],
                   cwd=REPO, env=environment, capture_output=True, text=True, timeout=900)


# fault kind -> (how to cause it on a chosen worker, healed only by repair)
FAULTS: dict[str, tuple[Callable[[str], None], bool]] = {
    "worker-reboot": (lambda worker: reboot(worker), False),
    "control-reboot": (lambda worker: reboot(CONTROL), False),
    "all-reboot": (lambda worker: reboot(CONTROL, *WORKERS, HAPROXY), False),
    "agent-stopped": (lambda worker: pct("exec", worker, "--", "systemctl", "stop", "k3s-agent"), True),
    "kmsg-reboot": (kmsg_reboot, False),
    "worker-stopped": (lambda worker: pct("stop", worker), True),
    "k3s-killed": (lambda worker: on_control("systemctl", "kill", "-s", "KILL", "--kill-whom=main", "k3s"), False),
    "service-restart": (lambda worker: service_restart(), False),
}


def recover(heal_by_repair: bool, deadline: float, repair_every: float) -> float | None:
    """Seconds from now until verify is green (repair run on its period when the fault needs it)."""
    started, next_repair = time.monotonic(), time.monotonic() + (repair_every if heal_by_repair else float("inf"))
    while time.monotonic() - started < deadline:
        if time.monotonic() >= next_repair:
            repair()
            next_repair = time.monotonic() + repair_every
        if verify_green():
            return time.monotonic() - started
        time.sleep(1)
    return None


def round_row(number: int, fault: str, worker: str, seed: int, made: list[str], args: argparse.Namespace) -> dict:
    marker = f"soak-{seed}-{number}"
    write_marker(marker, args.deadline)
    made.append(marker)
    cause, heal_by_repair = FAULTS[fault]
    started = time.monotonic()
    cause(worker)
    recovered = recover(heal_by_repair, args.deadline, args.repair_every)
    green = None if recovered is None else round(time.monotonic() - started, 1)
    return {"round": number, "fault": fault, "worker": worker, "green_after_s": green,
            "lost": missing_markers(made) if green is not None else None}


def summary(rows: list[dict]) -> list[str]:
    lines = ["| fault | rounds | green (median s) | green (worst s) | lost |", "|---|---|---|---|---|"]
    for fault in FAULTS:
        times = [row["green_after_s"] for row in rows if row["fault"] == fault]
        if not times:
            continue
        done = [t for t in times if t is not None]
        worst = "not green" if len(done) < len(times) else f"{max(done):.1f}"
        lost = sum(len(row["lost"] or []) for row in rows if row["fault"] == fault)
        lines.append(f"| {fault} | {len(times)} | {statistics.median(done) if done else 0:.1f} | {worst} | {lost} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=300, help="seconds each round may take to be green")
    parser.add_argument("--repair-every", type=float, default=30, help="the stand-in repair timer's period")
    args = parser.parse_args()
    chooser = random.Random(args.seed)
    REPAIR_STATE.parent.mkdir(exist_ok=True)
    REPAIR_STATE.unlink(missing_ok=True)
    if recover(False, args.deadline, args.repair_every) is None:
        raise SystemExit("soak: verify is not green before the first fault; deploy the lab first (make demo)")
    rows: list[dict] = []
    made: list[str] = []
    for number in range(1, args.rounds + 1):
        row = round_row(number, chooser.choice(sorted(FAULTS)), chooser.choice(WORKERS), args.seed, made, args)
        rows.append(row)
        print(json.dumps(row), flush=True)
    (REPO / "bench/results/soak.json").write_text(json.dumps(rows, indent=2))
    print("\n".join(summary(rows)))
    if any(row["green_after_s"] is None or row["lost"] for row in rows):
        raise SystemExit("soak: a round was not green within its deadline, or an acknowledged object was lost")


if __name__ == "__main__":
    main()
