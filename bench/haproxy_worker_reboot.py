"""Reboot one k3s worker container while requests go through HAProxy to Rancher's /ping.

Measures what a user sees: requests sent and failed during the reboot, and when HAProxy marked
the worker's server DOWN and UP again (from `show stat`). A request in flight on the worker at
the instant its container stops is cut (HAProxy can only redispatch connections that were never
established); once the server is DOWN every request goes to the other nodes. Bounded: one request every
``--interval`` seconds, stopped when the server is UP again after having been DOWN, or at
``--deadline`` seconds. Needs the lab deployed with Rancher (`make lab-up`, then the deploy).

    .venv/bin/python bench/haproxy_worker_reboot.py --vmid 111

With ``--planned`` the reboot goes through ``restart.py`` (container mode), which drains the
server in HAProxy before the reboot and sets it ready after.

Prints one JSON line; also written to bench/results/haproxy_worker_reboot[_planned].json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "lab"))

from facts.haproxy import HaproxyServerStats, server_is_up  # noqa: E402
from facts.names import RANCHER_BACKEND  # noqa: E402
from node_pct import pct_on_node  # noqa: E402
from tests.lab.helpers import rancher_ca  # noqa: E402
from verify.rancher import ping_through  # noqa: E402

LAB = REPO / "lab"
HAPROXY_IP = "10.213.0.121"


def ssh(ip: str, command: str) -> str:
    return subprocess.run(
        ["ssh", "-i", str(LAB / "ssh/id_ed25519"), "-o", f"UserKnownHostsFile={LAB / 'ssh/known_hosts'}",
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", f"root@{ip}", command],
        capture_output=True, text=True, timeout=30,
    ).stdout


def server_state(server: str) -> str:
    stats = HaproxyServerStats().process(ssh(HAPROXY_IP, HaproxyServerStats().command()).splitlines())
    fields = stats.get(RANCHER_BACKEND, {}).get(server, {})
    return "UP" if server_is_up(fields) else fields.get("status") or "absent"


def worker_name(vmid: int, inventory: dict) -> str:
    for worker in inventory["k3s_workers"]:
        if worker["node_ip"].endswith(f".{vmid}"):
            return worker["name"]
    raise SystemExit(f"bench: vmid {vmid}: not a worker of lab/inventory-ssh.yml")


def planned_reboot(node: str) -> subprocess.Popen:
    """Start ``restart.py`` in container mode for one node over pct, without the verify at its end."""
    return subprocess.Popen([str(REPO / ".venv/bin/pyinfra"), "-y", "inventory.py", "restart.py", "--data", "restart_mode=container",
                    "--data", f"restart_nodes={node}", "--data", "restart_verify=false"],
                   cwd=REPO, env={"K3S_INVENTORY": str(LAB / "inventory-pct.yml"), "PATH": f"{REPO}/.venv/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def request_loop(hostname: str, interval: float, stop: threading.Event, results: list[tuple[float, bool]]) -> None:
    ca_pem = rancher_ca()
    while not stop.is_set():
        started = time.monotonic()
        results.append((started, ping_through(HAPROXY_IP, hostname, ca_pem) == (200, "pong")))
        stop.wait(max(0.0, interval - (time.monotonic() - started)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vmid", type=int, default=111)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--deadline", type=float, default=300)
    parser.add_argument("--planned", action="store_true",
                        help="reboot through restart.py (drains the server in HAProxy first) instead of a bare pct reboot")
    args = parser.parse_args()

    inventory = yaml.safe_load((LAB / "inventory-ssh.yml").read_text())
    hostname = inventory["data"]["rancher_hostname"]
    server = worker_name(args.vmid, inventory)
    if server_state(server) != "UP":
        raise SystemExit(f"bench: {RANCHER_BACKEND}/{server} is not UP before the reboot")
    rancher_node = ssh("10.213.0.101", "k3s kubectl -n cattle-system get pods -l app=rancher "
                                       "-o jsonpath='{.items[*].spec.nodeName}'").split()

    results: list[tuple[float, bool]] = []
    stop = threading.Event()
    loop = threading.Thread(target=request_loop, args=(hostname, args.interval, stop, results))
    start = time.monotonic()
    loop.start()
    down_at = up_at = None
    restart = None
    try:
        restart = planned_reboot(server) if args.planned else None
        if restart is None:
            subprocess.run(pct_on_node("reboot", str(args.vmid)), check=True, timeout=120)
        while time.monotonic() - start < args.deadline:
            state = server_state(server)
            now = time.monotonic() - start
            if down_at is None and state != "UP":
                down_at = now
            elif down_at is not None and state == "UP" and (restart is None or restart.poll() is not None):
                up_at = now
                break
            time.sleep(0.5)
    finally:
        stop.set()
        loop.join()
        if restart is not None and restart.wait(timeout=600) != 0:
            raise SystemExit(f"bench: restart.py exited {restart.returncode}")

    failures = [round(at - start, 1) for at, ok in results if not ok]
    # Requests sent while HAProxy had the server DOWN can only have gone to the other nodes.
    while_down = [ok for at, ok in results if down_at is not None and down_at <= at - start <= (up_at or args.deadline)]
    report = {
        "worker": server, "vmid": args.vmid, "rancher_pod_nodes": rancher_node,
        "requests": len(results), "failed": len(failures), "failed_at_s": failures,
        "server_down_after_s": down_at and round(down_at, 1), "server_up_after_s": up_at and round(up_at, 1),
        "sent_while_down": len(while_down), "failed_while_down": while_down.count(False),
        "interval_s": args.interval, "planned": args.planned,
    }
    (REPO / "bench/results").mkdir(exist_ok=True)
    name = "haproxy_worker_reboot_planned" if args.planned else "haproxy_worker_reboot"
    (REPO / f"bench/results/{name}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report))
    if up_at is None:
        raise SystemExit(f"bench: {RANCHER_BACKEND}/{server} not back UP within {args.deadline:g}s")


if __name__ == "__main__":
    main()
