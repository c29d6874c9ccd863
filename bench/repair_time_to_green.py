"""Benchmark: time to green of ``python repair.py`` on the lab, per scenario, over SSH and over pct.

    .venv/bin/python bench/repair_time_to_green.py [--rounds 1]

Each round breaks one worker of a green cluster, waits until the API reports it NotReady, then times
``python repair.py -y`` (which returns once the node is Ready with a renewed lease) and counts the
lab pct calls it made (lab/pct_cli.py logs each call; other lab users' calls would be counted too).
Prints a Markdown table for docs/OPERATIONS.md. Needs `make lab-up` and a deployed cluster.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
LAB = REPO / "lab"
sys.path.insert(0, str(LAB))
from node_pct import pct_on_node  # noqa: E402
from pct_cli import CALL_LOG  # noqa: E402

WORKER, VMID = "k3s-worker-1", "111"
UNIT = "/etc/systemd/system/k3s-agent.service"


def pct(*args: str) -> str:
    """The lab's pct on the container's node; its stdout."""
    return subprocess.run(pct_on_node(*args), capture_output=True, text=True, timeout=180).stdout.strip()


def ready(node: str) -> str:
    return pct("exec", "101", "--", "k3s", "kubectl", "get", "node", node, "--request-timeout=5s",
               "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')


def wait_until(node: str, wanted: bool, deadline: float = 180) -> None:
    end = time.monotonic() + deadline
    while (ready(node) == "True") != wanted:
        if time.monotonic() > end:
            raise SystemExit(f"{node}: not {'Ready' if wanted else 'NotReady'} within {deadline}s")
        time.sleep(2)


def break_agent_and_kmsg() -> None:
    pct("exec", VMID, "--", "sh", "-c", "systemctl stop k3s-agent && rm -f /dev/kmsg")


def break_container() -> None:
    pct("stop", VMID)


def break_unit_then_reboot() -> None:
    pct("exec", VMID, "--", "sh", "-c", f"cp {UNIT} /root/k3s-agent.service.bench && "
        f"sed -i '/dev\\/kmsg/d' {UNIT} && systemctl daemon-reload")
    pct("reboot", VMID)


def restore_unit() -> None:
    pct("exec", VMID, "--", "sh", "-c", f"if [ -f /root/k3s-agent.service.bench ]; then "
        f"mv /root/k3s-agent.service.bench {UNIT} && systemctl daemon-reload; fi")


SCENARIOS: dict[str, Callable[[], None]] = {
    "k3s-agent stopped, /dev/kmsg removed": break_agent_and_kmsg,
    "container stopped (pct stop)": break_container,
    "unit without kmsg fix, pct reboot": break_unit_then_reboot,
}


def inventories(directory: Path) -> dict[str, Path]:
    """The lab's pct inventory, and its SSH inventory with the pct inventory's Proxmox hosts (lab, lab2)."""
    raw = yaml.safe_load((LAB / "inventory-ssh.yml").read_text())
    raw["secrets_file"] = str(LAB / raw["secrets_file"])
    raw["proxmox_hosts"] = yaml.safe_load((LAB / "inventory-pct.yml").read_text())["proxmox_hosts"]
    ssh = directory / "inventory-ssh-proxmox.yml"
    ssh.write_text(yaml.safe_dump(raw))
    return {"ssh": ssh, "pct": LAB / "inventory-pct.yml"}


def pct_calls() -> int:
    try:
        return len(CALL_LOG.read_text().splitlines())
    except FileNotFoundError:
        return 0


def timed_repair(inventory: Path, state_file: Path) -> tuple[int, float, int]:
    environment = {**os.environ, "K3S_INVENTORY": str(inventory)}
    calls, started = pct_calls(), time.monotonic()
    result = subprocess.run(
        [str(REPO / ".venv/bin/python"), "repair.py", "-y", "--data", f"repair_state_file={state_file}"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=900,
    )
    return result.returncode, time.monotonic() - started, pct_calls() - calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print("| connection | scenario | exit | repair run to Ready (s) | pct calls |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        for connection, inventory in inventories(Path(directory)).items():
            for scenario, breaker in SCENARIOS.items():
                for _ in range(args.rounds):
                    wait_until(WORKER, True)
                    breaker()
                    wait_until(WORKER, False)
                    status, seconds, calls = timed_repair(inventory, Path(directory) / "state.json")
                    restore_unit()
                    print(f"| {connection} | {scenario} | {status} | {seconds:.1f} | {calls} |", flush=True)
                    wait_until(WORKER, True)


if __name__ == "__main__":
    main()
