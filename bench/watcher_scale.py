"""Benchmark: k3s-node-watcher run time and API calls at 10 / 100 / 1000 nodes (lab stand-in).

    .venv/bin/python bench/watcher_scale.py [--inventory lab/inventory-ssh.yml] [--sizes 10,100,1000]

Needs a deployed lab. On the control node it runs `k3s scale-nodes N` (the stand-in registers N
simulated Ready nodes and renews their leases), then runs the installed watcher several times with
private log/state/metrics paths (the real ones stay untouched; the watcher timer is stopped meanwhile
so it does not repair first): first with nothing to repair, then
with stale unreachable taints on 10 % of the simulated nodes (the stand-in's stale-taint fault keeps
its controller from removing them). Prints a table and writes bench/results/watcher_scale.json.
Simulated nodes and the fault switch are removed and the timer started again at the end.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
FAULTS = "/var/lib/rancher/k3s/server/standin-faults"
RUN_DIR = "/tmp/k3s-node-watcher-bench"
WATCHER = (f"/usr/local/bin/k3s-node-watcher --log-file {RUN_DIR}/log --state-file {RUN_DIR}/state.json "
           f"--lock-file {RUN_DIR}/lock --textfile {RUN_DIR}/metrics.prom --alert-after 0")


def control_ssh(inventory: Path) -> list[str]:
    raw = yaml.safe_load(inventory.read_text())
    ssh = raw["k3s_control"][0]["ssh"]
    return ["ssh", "-i", ssh["key"], "-o", f"UserKnownHostsFile={ssh['known_hosts']}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"{ssh.get('user', 'root')}@{ssh['host']}"]


def remote(ssh: list[str], command: str, timeout: int = 600) -> str:
    result = subprocess.run([*ssh, command], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{command}: {result.stderr.strip()[-500:]}")
    return result.stdout


def simulated_count(ssh: list[str]) -> int:
    return int(remote(ssh, "k3s kubectl get nodes -l standin.k3s.io/simulated=true -o name | wc -l"))


def scale_to(ssh: list[str], size: int) -> int:
    """Start `k3s scale-nodes size` in the background; its pid once all nodes are registered."""
    pid = int(remote(ssh, f"nohup k3s scale-nodes {size} >{RUN_DIR}/scale.log 2>&1 </dev/null & echo $!"))
    deadline = time.monotonic() + 600
    while simulated_count(ssh) < size:
        if time.monotonic() > deadline:
            raise RuntimeError(f"scale-nodes {size}: not registered within 600 s")
        time.sleep(2)
    return pid


def watcher_run(ssh: list[str]) -> dict[str, float]:
    """One watcher run: exit status, wall time on the node, API calls and nodes from its metrics."""
    out = remote(ssh, f"s=$(date +%s%N); {WATCHER}; rc=$?; e=$(date +%s%N); echo $rc $(( (e - s) / 1000000 )); "
                      f"grep -E '^k3s_node_watcher_(api_calls|nodes) ' {RUN_DIR}/metrics.prom")
    lines = out.split("\n")
    status, millis = lines[0].split()
    metrics = dict(line.split() for line in lines[1:] if line)
    return {"exit": int(status), "ms": int(millis), "api_calls": int(metrics["k3s_node_watcher_api_calls"]),
            "nodes": int(metrics["k3s_node_watcher_nodes"])}


def stale_taint(ssh: list[str], size: int) -> int:
    """Unreachable NoSchedule+NoExecute taints on every tenth simulated node (Ready, so stale)."""
    names = [f"scale-node-{index:04d}" for index in range(0, size, 10)]
    quoted = " ".join(shlex.quote(name) for name in names)
    remote(ssh, f"k3s kubectl taint nodes {quoted} node.kubernetes.io/unreachable:NoSchedule "
                f"node.kubernetes.io/unreachable:NoExecute --overwrite >/dev/null")
    return len(names)


def measure(ssh: list[str], size: int, repeats: int) -> dict[str, object]:
    pid = scale_to(ssh, size)
    try:
        healthy = [watcher_run(ssh) for _ in range(repeats)]
        tainted = stale_taint(ssh, size)
        repair = watcher_run(ssh)
    finally:
        remote(ssh, f"kill {pid} || true")
    return {
        "simulated_nodes": size,
        "nodes_listed": healthy[0]["nodes"],
        "healthy_ms_median": statistics.median(run["ms"] for run in healthy),
        "healthy_api_calls": healthy[0]["api_calls"],
        "healthy_exit": healthy[0]["exit"],
        "repair_nodes_tainted": tainted,
        "repair_ms": repair["ms"],
        "repair_api_calls": repair["api_calls"],
        "repair_exit": repair["exit"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, default=REPO / "lab" / "inventory-ssh.yml")
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    # an interrupted run still removes its simulated nodes and the fault switch
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ssh = control_ssh(args.inventory)
    remote(ssh, f"mkdir -p {RUN_DIR} && echo stale-taints > {FAULTS} && systemctl stop k3s-node-watcher.timer")
    results = []
    try:
        for size in (int(value) for value in args.sizes.split(",")):
            results.append(measure(ssh, size, args.repeats))
            print(json.dumps(results[-1]), flush=True)
    finally:
        remote(ssh, f"rm -f {FAULTS}; systemctl start k3s-node-watcher.timer; k3s kubectl delete nodes -l standin.k3s.io/simulated=true --wait=false >/dev/null; "
                    "k3s kubectl -n kube-node-lease get leases -o name | grep '/scale-node-' "
                    "| xargs -r k3s kubectl -n kube-node-lease delete --wait=false >/dev/null")
    out = REPO / "bench" / "results" / "watcher_scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("| nodes listed | run ms (median, nothing to fix) | API calls | stale-tainted nodes | repair run ms | API calls |")
    print("|---|---|---|---|---|---|")
    for row in results:
        print(f"| {row['nodes_listed']} | {row['healthy_ms_median']} | {row['healthy_api_calls']} | "
              f"{row['repair_nodes_tainted']} | {row['repair_ms']} | {row['repair_api_calls']} |")


if __name__ == "__main__":
    main()
