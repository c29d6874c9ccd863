"""Facts read ahead: at the run's first read, every host's noted reads at the same time, each taken
once by the operation that needs it while the run has changed nothing.

pyinfra 3 runs a fact when an operation's body needs it and runs operations one after another, all
hosts in step: on a no-op run each host's first read of what the deploy manages, the control
node's cluster read and HAProxy's server status were round trips in a row, one operation each.
Operations note what they will read when they are defined (:func:`note_ahead`); the run's first
read (:func:`start`) asks for all of it at once, in parallel. What an operation takes
(:func:`taken`) is an answer from before every operation between; that holds only while no
operation of the run, on any host, has changed anything, so otherwise it is ``None`` and the caller
reads afresh. A read that fails here fails no host: the operation's own read meets the error.

Example:

    note_ahead("haproxy-stats", HaproxyServerStats, dict)   # when the operation is defined
    others = start(host, "managed-state"); ...; gevent.joinall(others)   # at the run's first read
    taken(host, "haproxy-stats")                             # the answer once, or None
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary, WeakSet

import gevent
from pyinfra.api import facts as pyinfra_facts
from pyinfra.context import ctx_host

# Keyed by the Host object itself: each run has its own hosts, so nothing outlives the run.
# Host -> key -> the fact and (called at the first read, when every operation is defined) its arguments.
_NOTED: WeakKeyDictionary[Any, dict[str, tuple[type, Callable[[], dict[str, Any]]]]] = WeakKeyDictionary()
_ANSWERS: WeakKeyDictionary[Any, dict[str, Any]] = WeakKeyDictionary()
# The runs (pyinfra states) whose first read has been made.
_STARTED: WeakSet[Any] = WeakSet()


def run_changed_nothing(state: Any) -> bool:
    """No operation of the run has changed anything on any host so far (waits count as changes)."""
    return not any(data.operation_meta.is_complete() and data.operation_meta.did_change()
                   for host_ops in state.ops.values() for data in host_ops.values())


def note_ahead(key: str, fact: type, arguments: Callable[[], dict[str, Any]]) -> None:
    """Note that an operation defined for the current host will read ``fact`` (``key`` names it)."""
    _NOTED.setdefault(ctx_host.get(), {})[key] = (fact, arguments)


def start(first: Any, reading: str) -> list[gevent.Greenlet]:
    """At the run's first read (``first``'s ``reading``, which the caller makes itself), every other
    noted read of every host, in parallel; the caller joins them before its operation ends. Later
    calls do nothing."""
    state = first.state
    if state in _STARTED:
        return []
    _STARTED.add(state)
    if not run_changed_nothing(state):
        return []

    def read(target: Any, key: str, fact: type, arguments: Callable[[], dict[str, Any]]) -> None:
        with ctx_host.use(target):
            _ANSWERS.setdefault(target, {})[key] = pyinfra_facts.get_fact(state, target, fact, kwargs=arguments(),
                                                                          apply_failed_hosts=False)

    return [gevent.spawn(read, target, key, fact, arguments)
            for target in state.inventory.get_active_hosts()
            for key, (fact, arguments) in _NOTED.get(target, {}).items()
            if (target, key) != (first, reading)]


def taken(target: Any, key: str) -> Any | None:
    """The answer read ahead for ``target``'s ``key``, once, while the run has changed nothing; else ``None``."""
    if target is ctx_host.context:
        # pyinfra's ``host`` proxy: the weak keys must be the Host itself
        target = ctx_host.get()
    answer = _ANSWERS.get(target, {}).pop(key, None)
    return answer if answer is not None and run_changed_nothing(target.state) else None
