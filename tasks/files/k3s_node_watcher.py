#!/usr/bin/env python3
"""k3s-node-watcher: clear stale unreachable/not-ready taints from Ready nodes, report NotReady ones.

Runs on a k3s control node from k3s-node-watcher.timer. Each run lists the nodes once through the
API (the server's kubeconfig, standard library only) and, for every node carrying
node.kubernetes.io/unreachable or node.kubernetes.io/not-ready with effect NoSchedule or NoExecute:

* Ready node: the taints are stale (the node lifecycle controller missed them); they are removed
  with a JSON patch whose first op tests the taint list read, so a concurrent change is never
  clobbered (the patch fails and the next run looks again). For SETTLE_SECONDS after the node
  turned Ready they are left to the node lifecycle controller, whose next pass removes them.
* NotReady node: the taints are the truth; removing them lets pods land on a dead node and the
  controller puts them back anyway. They are kept, and the node is reported with its Ready
  condition's status, reason and since when.

--remove-regardless removes the taints from NotReady nodes too (the original script's behaviour).
It is UNSAFE: pods get scheduled onto a node that cannot run them, and are then evicted again.

Exit status:
   0  healthy: every node Ready, nothing to remove
  10  repaired: stale taints removed; every node Ready
  20  API unreachable, or the kubeconfig is unusable
  30  NotReady nodes present: reported, taints kept (stale taints elsewhere may have been removed)
  40  another run holds the lock; this run did nothing

With several servers every server runs the watcher, and --lease NAMESPACE/NAME makes one run act at
a time cluster-wide: the run takes that Lease (compare-and-swap, expiring if its holder dies) with
the deploy's own lock script (k3s_lease_lock.py, installed beside the watcher: one definition of the
lock) before it lists the nodes, and releases it after; a run that finds it held exits 40.

Every action is logged (node, taint, reason, outcome) to the log file; counters go to a Prometheus
textfile for node_exporter's textfile collector, written atomically; when a node needs repairs in
--alert-after consecutive runs, an optional webhook (its URL read from the environment, since it
often embeds a secret) gets one JSON POST per streak.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import contextlib
import fcntl
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Iterator

EXIT_HEALTHY = 0
EXIT_REPAIRED = 10
EXIT_API_UNREACHABLE = 20
EXIT_NOT_READY = 30
EXIT_LOCKED = 40

# Runs alone on the host, so it carries its own copy of facts/names.py's taints (a unit test compares them).
WATCHED_TAINT_KEYS = ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")
WATCHED_EFFECTS = ("NoSchedule", "NoExecute")
KUBECONFIG_KEYS = ("server", "certificate-authority-data", "client-certificate-data", "client-key-data", "token")
WEBHOOK_ENV = "K3S_NODE_WATCHER_WEBHOOK_URL"
LEASE_ANNOTATION = "k3s-lxc-resilience/reason"
# A run takes seconds; a holder that died frees the lease for the next timer run after this.
LEASE_SECONDS = 60
# Once a node is Ready, the node lifecycle controller removes these taints on its next monitor pass
# (kubernetes/kubernetes pkg/controller/nodelifecycle/node_lifecycle_controller.go, every
# --node-monitor-period: 5 s by default, in k3s too). For two periods after the transition they are
# the controller's to remove, not stale: acting then races it and reports a repair nobody needed.
SETTLE_SECONDS = 10.0


class ApiUnreachable(Exception):
    """The API could not be asked (connection, TLS, auth or a non-2xx answer to the list)."""


# --- decision logic (pure; unit-tested on recorded node JSON) -------------------------------


@dataclass
class Decision:
    """What one run does about one node."""

    node: str
    ready: str
    reason: str
    since: str
    taints: list[dict[str, Any]]
    watched: list[dict[str, Any]]
    remove: bool
    why: str

    @property
    def remaining(self) -> list[dict[str, Any]]:
        return [taint for taint in self.taints if taint not in self.watched] if self.remove else self.taints


def is_watched(taint: dict[str, Any]) -> bool:
    return taint.get("key") in WATCHED_TAINT_KEYS and taint.get("effect") in WATCHED_EFFECTS


def settling(since: str, now: float | None = None) -> bool:
    """Whether a Ready condition that changed at ``since`` (RFC 3339, as the API writes it) is younger
    than SETTLE_SECONDS at ``now`` (this machine's clock by default); an unreadable time counts as settled.

    >>> settling("2024-11-25T10:00:00Z", now=1732528805.0)
    True
    """
    try:
        changed = calendar.timegm(time.strptime(since, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        return False
    return (time.time() if now is None else now) - changed < SETTLE_SECONDS


def decide(node: dict[str, Any], remove_regardless: bool = False, now: float | None = None) -> Decision:
    """Keep or remove a node's unreachable/not-ready taints, by its Ready condition (a Ready node's
    taints are left to the controller while it is ``settling``)."""
    conditions = {item.get("type"): item for item in node.get("status", {}).get("conditions", [])}
    ready = conditions.get("Ready", {})
    status = ready.get("status", "Unknown")
    taints = list(node.get("spec", {}).get("taints") or [])
    watched = [taint for taint in taints if is_watched(taint)]
    if not watched:
        why = "no-watched-taints"
    elif status == "True" and settling(ready.get("lastTransitionTime", ""), now):
        why = "ready-just-now-controller-settling"
    elif status == "True":
        why = "stale-on-ready-node"
    elif remove_regardless:
        why = "remove-regardless-unsafe"
    else:
        why = "node-not-ready"
    return Decision(
        node=node["metadata"]["name"],
        ready=status,
        reason=ready.get("reason", ""),
        since=ready.get("lastTransitionTime", ""),
        taints=taints,
        watched=watched,
        remove=why in ("stale-on-ready-node", "remove-regardless-unsafe"),
        why=why,
    )


def stale_taints_patch(taints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON patch removing the watched taints only if the taint list is still the one read (repair
    uses it too: tasks/repair/plan.py)."""
    remaining = [taint for taint in taints if not is_watched(taint)]
    test = {"op": "test", "path": "/spec/taints", "value": taints}
    if remaining:
        return [test, {"op": "replace", "path": "/spec/taints", "value": remaining}]
    return [test, {"op": "remove", "path": "/spec/taints"}]


def taint_patch(decision: Decision) -> list[dict[str, Any]]:
    """The patch that removes a decision's watched taints."""
    return stale_taints_patch(decision.taints)


def exit_status(decisions: list[Decision], removed_any: bool) -> int:
    if any(decision.ready != "True" for decision in decisions):
        return EXIT_NOT_READY
    return EXIT_REPAIRED if removed_any else EXIT_HEALTHY


def update_streaks(streaks: dict[str, int], repaired_nodes: set[str]) -> dict[str, int]:
    """Consecutive runs in which each node needed a repair; a clean run ends the streak."""
    return {node: streaks.get(node, 0) + 1 for node in sorted(repaired_nodes)}


def nodes_to_alert(streaks: dict[str, int], threshold: int) -> list[str]:
    """Nodes whose repair streak just reached ``threshold``: one alert per streak."""
    return [node for node, count in sorted(streaks.items()) if threshold > 0 and count == threshold]


# --- Kubernetes API (standard library) --------------------------------------------------------


def read_kubeconfig(text: str) -> dict[str, str]:
    """The first server, CA, client cert/key or token of a kubeconfig as k3s writes it."""
    found: dict[str, str] = {}
    for match in re.finditer(r"^\s*-?\s*([a-z-]+):\s*(\S+)\s*$", text, re.MULTILINE):
        key, value = match.groups()
        if key in KUBECONFIG_KEYS and key not in found:
            found[key] = value.strip("\"'")
    if "server" not in found:
        raise ApiUnreachable("kubeconfig has no server")
    return found


@dataclass
class Api:
    """A counted HTTPS client for one API server."""

    server: str
    context: ssl.SSLContext
    token: str
    timeout: float
    calls: int = 0

    @classmethod
    def from_kubeconfig(cls, path: str, timeout: float) -> "Api":
        try:
            with open(path, encoding="utf-8") as handle:
                config = read_kubeconfig(handle.read())
        except OSError as error:
            raise ApiUnreachable(f"kubeconfig {path}: {error.strerror}") from error
        context = ssl.create_default_context()
        if "certificate-authority-data" in config:
            context.load_verify_locations(cadata=base64.b64decode(config["certificate-authority-data"]).decode())
        if "client-certificate-data" in config:
            with private_pem(config["client-certificate-data"], config["client-key-data"]) as pem:
                context.load_cert_chain(pem)
        return cls(config["server"].rstrip("/"), context, config.get("token", ""), timeout)

    def request(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        self.calls += 1
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, context=self.context, timeout=self.timeout) as answer:
            return json.loads(answer.read() or b"null")


@contextlib.contextmanager
def private_pem(cert_b64: str, key_b64: str) -> Iterator[str]:
    """ssl needs the client key in a file: a 0600 temp file, removed as soon as it is loaded."""
    descriptor, path = tempfile.mkstemp(prefix="k3s-node-watcher-", suffix=".pem")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(base64.b64decode(cert_b64) + b"\n" + base64.b64decode(key_b64))
        yield path
    finally:
        os.unlink(path)


def list_nodes(api: Api) -> list[dict[str, Any]]:
    try:
        return api.request("GET", "/api/v1/nodes")["items"]
    except (urllib.error.URLError, OSError, ValueError, KeyError) as error:
        raise ApiUnreachable(f"list nodes: {getattr(error, 'reason', error)}") from error


def remove_taints(api: Api, decision: Decision) -> str:
    """Apply the taint patch; the outcome names what happened, for the log."""
    try:
        api.request("PATCH", f"/api/v1/nodes/{decision.node}", taint_patch(decision), "application/json-patch+json")
        return "removed"
    except urllib.error.HTTPError as error:
        if error.code in (409, 422):
            return "conflict-retry-next-run"
        if error.code == 404:
            return "node-gone"
        return f"failed-http-{error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"failed-{type(error).__name__}"


# --- side effects: log, state, metrics, alert, lock -------------------------------------------


@dataclass
class Run:
    """What this run saw and did, for the log, the metrics and the exit status."""

    decisions: list[Decision] = field(default_factory=list)
    removed: int = 0
    repaired_nodes: set[str] = field(default_factory=set)
    api_up: bool = True
    api_calls: int = 0


def log_line(handle: Any, **fields: Any) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    handle.write(stamp + " " + " ".join(f"{key}={value if value != '' else '-'}" for key, value in fields.items()) + "\n")
    handle.flush()


def load_state(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def write_atomically(path: str, content: str, mode: int = 0o644) -> None:
    """Write beside the target and rename, so readers never see a half-written file."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def metrics_text(state: dict[str, Any], run: Run, status: int, now: float) -> str:
    not_ready = sum(1 for decision in run.decisions if decision.ready != "True")
    rows = [
        ("runs_total", "counter", "Watcher runs.", state["runs_total"]),
        ("taints_removed_total", "counter", "Stale taints removed from Ready nodes.", state["taints_removed_total"]),
        ("not_ready_nodes", "gauge", "NotReady nodes seen by the last run (taints kept).", not_ready),
        ("nodes", "gauge", "Nodes listed by the last run.", len(run.decisions)),
        ("api_up", "gauge", "1 if the last run reached the API.", int(run.api_up)),
        ("api_calls", "gauge", "API requests made by the last run.", run.api_calls),
        ("max_repair_streak", "gauge", "Most consecutive runs any node needed repairs.",
         max(state["streaks"].values(), default=0)),
        ("last_exit_code", "gauge", "Exit status of the last run (0, 10, 20, 30).", status),
        ("last_run_timestamp_seconds", "gauge", "When the last run finished.", round(now, 3)),
    ]
    return prometheus_text("k3s_node_watcher", rows)


def prometheus_text(prefix: str, rows: list[tuple[str, str, str, Any]]) -> str:
    """node_exporter's textfile format: HELP, TYPE and the value of each ``(name, kind, help, value)``
    (repair writes its counters with it too: tasks/repair/report.py)."""
    lines = []
    for name, kind, help_text, value in rows:
        lines += [f"# HELP {prefix}_{name} {help_text}", f"# TYPE {prefix}_{name} {kind}", f"{prefix}_{name} {value}"]
    return "\n".join(lines) + "\n"


def send_alert(url: str, node: str, streak: int, log: Any) -> None:
    body = json.dumps({
        "text": f"k3s-node-watcher: node {node} needed stale-taint repairs in {streak} consecutive runs",
        "node": node,
        "consecutive_repairs": streak,
    }).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5):
            outcome = "sent"
    except (urllib.error.URLError, OSError) as error:
        outcome = f"failed-{type(error).__name__}"
    log_line(log, node=node, taint="-", reason=f"repairs-in-a-row={streak}", outcome=f"alert-{outcome}")


@contextlib.contextmanager
def exclusive_lock(path: str) -> Iterator[bool]:
    """Yields False when another run holds the lock."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


# --- one run ------------------------------------------------------------------------------------


def watch(args: argparse.Namespace, log: Any) -> int:
    run = Run()
    try:
        api = Api.from_kubeconfig(args.kubeconfig, args.api_timeout)
        try:
            nodes = list_nodes(api)
        finally:
            run.api_calls = api.calls
    except (ApiUnreachable, ssl.SSLError, ValueError) as error:
        run.api_up = False
        log_line(log, node="-", taint="-", reason=f"api-unreachable:{str(error).replace(' ', '_')}", outcome="skipped")
        return finish(args, log, run, EXIT_API_UNREACHABLE)

    for node in nodes:
        decision = decide(node, args.remove_regardless)
        run.decisions.append(decision)
        if decision.remove:
            outcome = remove_taints(api, decision)
            if outcome == "removed":
                run.removed += len(decision.watched)
                run.repaired_nodes.add(decision.node)
            for taint in decision.watched:
                log_line(log, node=decision.node, taint=f"{taint['key']}:{taint['effect']}",
                         reason=decision.why, condition=f"Ready={decision.ready}", outcome=outcome)
        elif decision.watched:
            for taint in decision.watched:
                log_line(log, node=decision.node, taint=f"{taint['key']}:{taint['effect']}",
                         reason=decision.why, condition=f"Ready={decision.ready}",
                         cause=decision.reason, since=decision.since, outcome="kept")
        elif decision.ready != "True":
            log_line(log, node=decision.node, taint="-", reason="node-not-ready", condition=f"Ready={decision.ready}",
                     cause=decision.reason, since=decision.since, outcome="reported")
    run.api_calls = api.calls
    return finish(args, log, run, exit_status(run.decisions, run.removed > 0))


def finish(args: argparse.Namespace, log: Any, run: Run, status: int) -> int:
    state = load_state(args.state_file)
    state["runs_total"] = state.get("runs_total", 0) + 1
    state["taints_removed_total"] = state.get("taints_removed_total", 0) + run.removed
    if run.api_up:
        state["streaks"] = update_streaks(state.get("streaks", {}), run.repaired_nodes)
    else:
        state.setdefault("streaks", {})
    webhook = os.environ.get(WEBHOOK_ENV, "")
    if webhook and run.api_up:
        for node in nodes_to_alert(state["streaks"], args.alert_after):
            send_alert(webhook, node, state["streaks"][node], log)
    write_atomically(args.state_file, json.dumps(state, sort_keys=True) + "\n", 0o600)
    if args.textfile:
        write_atomically(args.textfile, metrics_text(state, run, status, time.time()))
    not_ready = sum(1 for decision in run.decisions if decision.ready != "True")
    log_line(log, node="-", taint="-", reason="run-summary", nodes=len(run.decisions), removed=run.removed,
             not_ready=not_ready, api_calls=run.api_calls, outcome=f"exit-{status}")
    return status


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="k3s-node-watcher",
        description="Remove stale unreachable/not-ready taints from Ready k3s nodes; report NotReady nodes.",
        epilog="Exit status: 0 healthy, 10 repaired, 20 API unreachable, 30 NotReady nodes reported, "
               f"40 another run holds the lock. Webhook URL: environment {WEBHOOK_ENV}.",
    )
    parser.add_argument("--kubeconfig", default="/etc/rancher/k3s/k3s.yaml")
    parser.add_argument("--log-file", default="/var/log/k3s-node-watcher.log")
    parser.add_argument("--lock-file", default="/run/k3s-node-watcher/lock")
    parser.add_argument("--state-file", default="/var/lib/k3s-node-watcher/state.json")
    parser.add_argument("--textfile", default="/var/lib/node_exporter/textfile_collector/k3s_node_watcher.prom",
                        help="Prometheus textfile; empty to disable")
    parser.add_argument("--api-timeout", type=float, default=10.0, help="seconds per API request")
    parser.add_argument("--alert-after", type=int, default=3,
                        help="alert when a node needed repairs in this many consecutive runs (0: never)")
    parser.add_argument("--lease", default="",
                        help="NAMESPACE/NAME: act only while holding this Lease (several servers run the watcher)")
    parser.add_argument("--lease-script", default="/usr/local/lib/k3s-node-watcher/k3s_lease_lock.py",
                        help="the Lease lock script (take/release) the deploy installs beside the watcher")
    parser.add_argument("--remove-regardless", action="store_true",
                        help="UNSAFE: also remove the taints from NotReady nodes, so pods are scheduled onto "
                             "nodes that cannot run them (the controller re-adds the taints)")
    return parser.parse_args(argv)


def lease_command(args: argparse.Namespace, action: str, holder: str) -> list[str]:
    """The lock script's command line (k3s_lease_lock.py) for ``take`` or ``release``."""
    namespace, _, name = args.lease.partition("/")
    command = [sys.executable, args.lease_script, namespace, name, LEASE_ANNOTATION, action, holder]
    return command + (["node-watcher", str(LEASE_SECONDS)] if action == "take" else [])


def lease_result(args: argparse.Namespace, action: str, holder: str) -> dict[str, Any]:
    """The lock script's JSON answer; no answer reads as ``api-unreachable``."""
    try:
        done = subprocess.run(lease_command(args, action, holder), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as error:
        return {"result": "api-unreachable", "error": type(error).__name__}


def lease_refusal(answer: dict[str, Any], log: Any) -> int:
    """0 when the lease was taken, else the exit status (logged): 20 without an API, 40 when another
    server's run holds it or took it just now."""
    if answer.get("result") == "taken":
        return 0
    if answer.get("result") == "api-unreachable":
        error = str(answer.get("error", "")).replace(" ", "_")
        log_line(log, node="-", taint="-", reason=f"api-unreachable:lease:{error}", outcome="skipped")
        return EXIT_API_UNREACHABLE
    log_line(log, node="-", taint="-", reason=f"another-run-holds-the-lease:{answer.get('holder') or '-'}",
             outcome="skipped")
    return EXIT_LOCKED


def watch_holding_lease(args: argparse.Namespace, log: Any) -> int:
    """:func:`watch` while this run holds ``--lease`` (without one: as a lone server's watcher)."""
    if not args.lease:
        return watch(args, log)
    holder = f"k3s-node-watcher@{socket.gethostname()}:{os.getpid()}"
    refused = lease_refusal(lease_result(args, "take", holder), log)
    if refused:
        return refused
    try:
        return watch(args, log)
    finally:
        lease_result(args, "release", holder)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    os.makedirs(os.path.dirname(args.log_file), exist_ok=True)
    with open(args.log_file, "a", encoding="utf-8") as log, exclusive_lock(args.lock_file) as locked:
        if not locked:
            log_line(log, node="-", taint="-", reason="another-run-holds-the-lock", outcome="skipped")
            return EXIT_LOCKED
        return watch_holding_lease(args, log)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
