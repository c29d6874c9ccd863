"""One cluster-wide lock for everything that restarts nodes (the deploy's restart, restart.py, repair):
a Lease ``kube-system/k3s-lxc-resilience-lock`` with holder, reason and expiry, as kured's lock
(kubereboot/kured ``pkg/daemonsetlock``) and leader election (kubernetes ``client-go/tools/
leaderelection/resourcelock/leaselock.go``) keep theirs.

Taking it is a compare-and-swap: the Lease is created (``AlreadyExists`` if another got there first)
or replaced carrying the ``resourceVersion`` it was read at (``Conflict`` if it changed since), so
two takers never both win. A holder that died stops holding it when ``renewTime`` +
``leaseDurationSeconds`` has passed. Every time is the control node's clock: the decision runs there
(``python3`` with ``k3s kubectl``), never on this machine.

Example:
    taken = take(control, Holder("restart.py on laptop", "restart"), duration=LEASE_SECONDS, wait=600)
    ...
    release(control, taken.holder)
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from pyinfra import host, logger
from pyinfra.api import FunctionCommand, StringCommand, operation
from pyinfra.api.host import Host
from pyinfra.api.state import State

LEASE_NAMESPACE, LEASE_NAME = "kube-system", "k3s-lxc-resilience-lock"
REASON_ANNOTATION = "k3s-lxc-resilience/reason"
POLL_SECONDS = 5
# How long a holder that stopped renewing (it died, or stopped before releasing) keeps the lock, and
# how often a live holder renews it: leader election's proportions (client-go leaderelection:
# leaseDuration 15 s, retryPeriod 2 s), longer since a control node may be rebooting meanwhile.
LEASE_SECONDS = 120
RENEW_SECONDS = 20

# The lock's script (``take``/``release``, one JSON line out); the watcher runs the same file installed.
LOCK_SCRIPT = Path(__file__).resolve().parent / "files" / "k3s_lease_lock.py"
_LOCK = LOCK_SCRIPT.read_text()


@dataclass(frozen=True)
class Holder:
    """Who holds the lock and why: ``identity`` names the process and machine, ``reason`` the job."""

    identity: str
    reason: str

    @staticmethod
    def here(job: str) -> Holder:
        """This process on this machine, e.g. ``restart.py@laptop:4242``."""
        return Holder(f"{job}@{socket.gethostname()}:{os.getpid()}", job)


@dataclass(frozen=True)
class Attempt:
    """One answer of the control node: ``result`` and, when held, by whom, why, for how long."""

    result: str
    holder: str = ""
    reason: str = ""
    seconds_left: int = 0
    error: str = ""

    def line(self) -> str:
        """The one line an operator reads when the lock is not theirs."""
        if self.result == "held":
            return (f"cluster lock {LEASE_NAMESPACE}/{LEASE_NAME} is held by {self.holder} "
                    f"({self.reason or 'no reason given'}) for {self.seconds_left}s more")
        if self.result == "api-unreachable":
            return f"cluster lock: Kubernetes API unreachable ({self.error})"
        return f"cluster lock: {self.result} {self.error}".rstrip()


def lock_command(action: str, holder: Holder, seconds: int = 0) -> StringCommand:
    arguments = [LEASE_NAMESPACE, LEASE_NAME, REASON_ANNOTATION, action, holder.identity]
    if action == "take":
        arguments += [holder.reason, str(seconds)]
    return StringCommand(f"python3 -c {shlex.quote(_LOCK)} {shlex.join(arguments)}")


def parse_attempt(output: str) -> Attempt:
    """The script's JSON line; anything else (the control node not answering) reads as unreachable."""
    try:
        fields = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Attempt("api-unreachable", error="no answer from the control node")
    known = {key: fields[key] for key in ("result", "holder", "reason", "seconds_left", "error") if key in fields}
    return Attempt(**known)


def attempt(control: Host, action: str, holder: Holder, seconds: int = 0) -> Attempt:
    ok, output = control.run_shell_command(lock_command(action, holder, seconds), _timeout=60)
    return parse_attempt(output.stdout if ok else "")


def take(control: Host, holder: Holder, duration: int, wait: float) -> Attempt:
    """Take (or renew) the lock for ``duration`` seconds, waiting up to ``wait`` seconds while
    another holds it; the last attempt is returned (``taken`` on success)."""
    deadline = time.monotonic() + wait
    while True:
        answer = attempt(control, "take", holder, duration)
        if answer.result == "taken" or answer.result == "api-unreachable":
            return answer
        if time.monotonic() >= deadline:
            return answer
        # "raced": another taker won the compare-and-swap just now; read again soon.
        gevent.sleep(1 if answer.result == "raced" else POLL_SECONDS)


def release(control: Host, holder: Holder) -> Attempt:
    """Give the lock up if this holder has it (``not-held`` otherwise: it expired and was taken)."""
    return attempt(control, "release", holder)


# The lock this run holds (set on the control node by cluster_lock_taken, which runs before any
# operation that needs it); operations that act on nodes check it with held_by_this_run().
HELD: dict[str, Holder] = {}


def held_by_this_run() -> Holder | None:
    return HELD.get("holder")


def keep_renewing(control: Host, holder: Holder) -> None:
    """Renew the lease every ``RENEW_SECONDS`` while this run holds it (a greenlet), as a leader
    elector renews its lease: the lease itself is short, so a run that dies or stops early without
    releasing stops holding the lock within ``LEASE_SECONDS``. A renewal that fails (the control node
    rebooting) is tried again; one that finds another holder ends this run's hold."""
    while HELD.get("holder") == holder:
        gevent.sleep(RENEW_SECONDS)
        if HELD.get("holder") != holder:
            return
        try:
            answer = attempt(control, "take", holder, LEASE_SECONDS)
        except Exception as error:  # a closed connection at the end of the run, a reboot: try again
            logger.debug(f"cluster lock renewal: {error}")
            continue
        if answer.result == "held":
            logger.error(f"{control.print_prefix}{answer.line()}: this run no longer holds the cluster lock")
            HELD.pop("holder", None)
            return


def hold(control: Host, holder: Holder) -> None:
    """This run holds the lock from now on, renewed in the background until released."""
    HELD["holder"] = holder
    gevent.spawn(keep_renewing, control, holder)


def take_for_run(state: State, host: Host, holder: Holder, wait: float) -> bool:
    """FunctionCommand body: take the lock on this (control) host's API; one line when it cannot."""
    answer = take(host, holder, LEASE_SECONDS, wait)
    if answer.result != "taken":
        logger.error(f"{host.print_prefix}{answer.line()}")
        return False
    hold(host, holder)
    return True


def still_held() -> bool:
    """Before acting on a node: this run still holds the lock (``False`` with a line otherwise)."""
    if held_by_this_run() is None:
        logger.error("cluster lock: not held by this run; nothing is restarted")
        return False
    return True


def release_for_run(state: State, host: Host) -> bool:
    holder = HELD.pop("holder", None)
    if holder is not None:
        answer = release(host, holder)
        if answer.result != "released":
            logger.warning(f"{host.print_prefix}{answer.line()}")
    return True


@operation(is_idempotent=False)
def cluster_lock_taken(job: str, wait: float, takes_here: bool) -> Generator[Any, None, None]:
    """
    Take the cluster-wide lock for this run, waiting up to ``wait`` seconds while another run holds
    it; fail with one line naming the holder otherwise. Call it on every host from one line: the host
    with ``takes_here`` (a control node) takes it; on the others it is an ordering point, so nothing
    after it starts anywhere before the lock is taken.

    + job: what this run does, recorded as the lock's reason (``restart``, ``repair``)
    + wait: seconds to wait for another holder
    + takes_here: this host takes the lock (it must be a control node)

    **Example:**

    .. code:: python

        cluster_lock_taken(name="Cluster lock taken", job="restart", wait=300,
                           takes_here=host == inventory.get_group("k3s_control")[0])
    """
    if not takes_here:
        host.noop("a control node takes the cluster lock")
        return
    yield FunctionCommand(take_for_run, (Holder.here(job), wait), {})


@operation(is_idempotent=False)
def cluster_lock_released(releases_here: bool) -> Generator[Any, None, None]:
    """
    Give up the lock this run took (nothing when it holds none); an ordering point on the hosts
    without ``releases_here``, like :func:`cluster_lock_taken`.

    + releases_here: this host releases it (the one that took it)

    **Example:**

    .. code:: python

        cluster_lock_released(name="Cluster lock released", releases_here=host == control)
    """
    if not releases_here:
        host.noop("a control node releases the cluster lock")
        return
    yield FunctionCommand(release_for_run, (), {})
