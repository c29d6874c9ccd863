"""The cluster lock's compare-and-swap, run as it runs on a control node (the real script, python3)
against a fake ``k3s kubectl`` that keeps one Lease in a file with resourceVersion checks, as the
API does (409 Conflict on a stale resourceVersion, AlreadyExists on a second create)."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from datetime import datetime, timedelta, timezone

import pytest

from tasks.cluster_lock import Holder, lock_command, parse_attempt

FAKE_K3S = textwrap.dedent('''\
    #!/usr/bin/env python3
    import json, os, sys
    store = os.environ["FAKE_LEASE"]
    args = [a for a in sys.argv[2:] if not a.startswith("--request-timeout")]
    lease = json.load(open(store)) if os.path.exists(store) else None
    if os.environ.get("FAKE_API_DOWN"):
        sys.exit("The connection to the server 127.0.0.1:6443 was refused")
    if args[0] == "get":
        if lease is None:
            sys.exit('Error from server (NotFound): leases.coordination.k8s.io "x" not found')
        print(json.dumps(lease)); sys.exit(0)
    body = json.loads(sys.stdin.read())
    if args[0] == "create":
        if lease is not None:
            sys.exit("Error from server (AlreadyExists): already exists")
        body["metadata"]["resourceVersion"] = "1"
    else:
        if lease is None or body["metadata"].get("resourceVersion") != lease["metadata"]["resourceVersion"]:
            sys.exit("Error from server (Conflict): the object has been modified")
        body["metadata"]["resourceVersion"] = str(int(lease["metadata"]["resourceVersion"]) + 1)
    json.dump(body, open(store, "w")); print("ok")
''')


@pytest.fixture
def control(tmp_path, monkeypatch):
    """Runs the lock command as the control node would, with the fake k3s first on PATH."""
    (tmp_path / "k3s").write_text(FAKE_K3S)
    (tmp_path / "k3s").chmod(0o755)
    store = tmp_path / "lease.json"
    environment = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "FAKE_LEASE": str(store)}

    def run(action: str, holder: Holder, seconds: int = 0, **extra: str):
        command = str(lock_command(action, holder, seconds))
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env={**environment, **extra})
        return parse_attempt(done.stdout)

    run.store = store
    return run


RESTART, REPAIR = Holder("restart.py@a:1", "restart"), Holder("repair.py@b:2", "repair")


def test_first_taker_gets_it(control):
    assert control("take", RESTART, 600).result == "taken"


def test_second_taker_is_told_who_holds_it_and_why(control):
    control("take", RESTART, 600)
    answer = control("take", REPAIR, 600)
    assert (answer.result, answer.holder, answer.reason, 590 <= answer.seconds_left <= 600) == \
        ("held", "restart.py@a:1", "restart", True)
    assert answer.line().startswith("cluster lock kube-system/k3s-lxc-resilience-lock is held by restart.py@a:1 (restart)")


def test_holder_renews_it(control):
    control("take", RESTART, 600)
    assert control("take", RESTART, 600).result == "taken"


def test_released_lock_can_be_taken(control):
    control("take", RESTART, 600)
    assert (control("release", RESTART).result, control("take", REPAIR, 600).result) == ("released", "taken")


def test_expired_lock_of_a_dead_holder_can_be_taken(control):
    control("take", RESTART, 600)
    lease = json.loads(control.store.read_text())
    old = datetime.now(timezone.utc) - timedelta(seconds=601)
    lease["spec"]["renewTime"] = old.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    control.store.write_text(json.dumps(lease))
    assert control("take", REPAIR, 600).result == "taken"


def test_only_the_holder_releases_it(control):
    control("take", RESTART, 600)
    assert control("release", REPAIR).result == "not-held"


def test_api_down_reads_as_unreachable(control):
    answer = control("take", RESTART, 600, FAKE_API_DOWN="1")
    assert (answer.result, "refused" in answer.error) == ("api-unreachable", True)


def test_no_answer_reads_as_unreachable():
    assert parse_attempt("").result == "api-unreachable"


def test_times_are_the_control_nodes(control, monkeypatch):
    """The script stamps renewTime itself (the node's clock); this process's clock is not used."""
    monkeypatch.setattr(time, "time", lambda: 0.0)
    control("take", RESTART, 600)
    renewed = json.loads(control.store.read_text())["spec"]["renewTime"]
    assert abs(datetime.fromisoformat(renewed.replace("Z", "+00:00")).timestamp() - datetime.now().timestamp()) < 60
