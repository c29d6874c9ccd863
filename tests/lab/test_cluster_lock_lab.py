"""One cluster-wide lock (a Lease in kube-system) against the lab's API: of two takers at once exactly
one wins; repair finds it held and does nothing (exit 40, the holder named) until it is free; a restart
started while it is held waits until the holder's lease has expired, so both never act at once; a
repair and a restart started together: one acts, the other waits or stands down."""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tasks.cluster_lock import Holder, lock_command, parse_attempt
from tests.lab.helpers import REPO, in_container, pct, run_pyinfra, wait_ready_state

CONTROL_VMID, WORKER, WORKER_VMID = "101", "k3s-worker-1", "111"
OTHER = Holder("lab-test@this-machine:1", "a test holding the lock")


def on_control(action: str, holder: Holder, seconds: int = 0):
    command = str(lock_command(action, holder, seconds))
    done = pct("exec", CONTROL_VMID, "--", "sh", "-c", command)
    return parse_attempt(done.stdout.decode())


def repair(lab_inventory_pct) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv/bin/python"), "repair.py", "-y"], cwd=REPO,
                          env={**os.environ, "K3S_INVENTORY": str(lab_inventory_pct)},
                          capture_output=True, text=True, timeout=900)


@pytest.fixture
def free_lock():
    yield
    on_control("release", OTHER)


def test_of_two_takers_at_once_exactly_one_wins(deployed_ssh, free_lock):
    first, second = Holder("taker-a@lab:1", "race"), Holder("taker-b@lab:2", "race")
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda holder: on_control("take", holder, 60), (first, second)))
    winners = [holder for holder, answer in zip((first, second), answers, strict=True) if answer.result == "taken"]
    for holder in winners:
        on_control("release", holder)
    assert len(winners) == 1, answers


def test_repair_does_nothing_while_another_run_holds_the_lock(deployed_ssh, lab_inventory_pct, free_lock):
    wait_ready_state(WORKER, True, deadline=180)
    assert on_control("take", OTHER, 600).result == "taken"
    in_container(WORKER_VMID, "systemctl stop k3s-agent")
    try:
        wait_ready_state(WORKER, False, deadline=120)
        locked = repair(lab_inventory_pct)
        agent = pct("exec", WORKER_VMID, "--", "systemctl", "is-active", "k3s-agent").stdout.decode().strip()
        on_control("release", OTHER)
        repaired = repair(lab_inventory_pct)
    finally:
        in_container(WORKER_VMID, "systemctl start --no-block k3s-agent")
    assert (locked.returncode, "held by lab-test@this-machine:1" in locked.stdout + locked.stderr, agent,
            repaired.returncode) == (40, True, "inactive", 10), locked.stdout[-2000:]


def test_a_restart_waits_until_the_holders_lease_expired(deployed_ssh, lab_inventory_ssh, free_lock):
    wait_ready_state("k3s-worker-2", True, deadline=180)
    taken = on_control("take", OTHER, 20)
    expires = time.time() + 20
    result = run_pyinfra(lab_inventory_ssh, "restart.py", "--data", "restart_nodes=k3s-worker-2",
                         "--data", "restart_verify=false")
    started = in_container("112", "date -d \"$(systemctl show -p ActiveEnterTimestamp --value k3s-agent)\" +%s")
    assert (taken.result, result.returncode, int(started.stdout.decode()) >= int(expires) - 1) == ("taken", 0, True), \
        result.stdout[-3000:]


def _agent_started(vmid: str) -> int:
    """When the node's k3s-agent last became active (epoch seconds)."""
    started = in_container(vmid, "date -d \"$(systemctl show -p ActiveEnterTimestamp --value k3s-agent)\" +%s")
    return int(started.stdout.decode())


def test_a_repair_and_a_restart_started_together_never_act_at_once(deployed_ssh, lab_inventory_ssh,
                                                                   lab_inventory_pct):
    """The repair timer's run (here repair.py, as the timer starts it) heals k3s-worker-1 while
    restart.py restarts k3s-worker-2, both launched at the same moment. Whichever takes the lock
    first acts: if the restart, the repair stands down (exit 40, the restart named); if the repair,
    the restart waits, and restarts k3s-worker-2 only after the repair has ended."""
    wait_ready_state(WORKER, True, deadline=180)
    wait_ready_state("k3s-worker-2", True, deadline=180)
    in_container(WORKER_VMID, "systemctl stop k3s-agent")
    try:
        wait_ready_state(WORKER, False, deadline=120)
        with ThreadPoolExecutor(2) as pool:
            restarting = pool.submit(run_pyinfra, lab_inventory_ssh, "restart.py", "--data",
                                     "restart_nodes=k3s-worker-2", "--data", "restart_verify=false")
            repairing = pool.submit(lambda: (repair(lab_inventory_pct), time.time()))
            restarted, (repaired, repair_ended) = restarting.result(), repairing.result()
    finally:
        in_container(WORKER_VMID, "systemctl start --no-block k3s-agent")
    restarted_at = _agent_started("112")
    if repaired.returncode == 40:
        outcome = ("restart first", "held by restart@" in repaired.stdout + repaired.stderr, restarted.returncode)
        assert outcome == ("restart first", True, 0), repaired.stdout[-2000:] + restarted.stdout[-2000:]
    else:
        outcome = ("repair first", repaired.returncode, restarted.returncode, restarted_at >= int(repair_ended) - 1)
        assert outcome == ("repair first", 10, 0, True), repaired.stdout[-2000:] + restarted.stdout[-2000:]
    wait_ready_state(WORKER, True, deadline=180)
