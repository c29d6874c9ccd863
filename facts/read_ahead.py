"""Facts read ahead: at the run's first read, every host's noted reads at the same time, each taken
once by the operation that needs it while the run has changed nothing.

pyinfra 3 runs a fact when an operation's body needs it and runs operations one after another, all
hosts in step: on a no-op run each host's first read of what the deploy manages, the control
node's cluster read and HAProxy's server status were round trips in a row, one operation each.
Operations note what they will read when they are defined (:func:`note_ahead`); the run's first
read (:func:`first_read`) asks for all of it at once: the hosts in parallel, each host's reads one
after another there. What an operation takes (:func:`taken`) is an answer from before every
operation between; that holds only while no operation of the run, on any host, has changed
anything, so otherwise it is ``None`` and the caller reads afresh. A read that fails here fails no
host: the operation's own read meets the error.

Example:

    note_ahead("haproxy-stats", HaproxyServerStats, dict)        # when the operation is defined
    first_read(host, "managed-state", lambda: host.get_fact(...))  # the run's first read, and all noted
    taken(host, "haproxy-stats")                                  # the answer once, or None
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary, WeakSet

import gevent
from pyinfra.api import facts as pyinfra_facts
from pyinfra.context import ctx_host

T = TypeVar("T")
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


def first_read(first: Any, reading: str, own: Callable[[], T]) -> T:
    """``own()`` (``first``'s ``reading``), and at the run's first read every other noted read of
    every host with it: each other host's in a greenlet of its own, one after another there (never
    two commands at once on one host), ``first``'s after ``own``; all done before it returns.

    Example:
        state = first_read(host, "managed-state", lambda: host.get_fact(ManagedState, ...))
    """
    state = first.state
    if state in _STARTED:
        return own()
    _STARTED.add(state)
    if not run_changed_nothing(state):
        return own()

    def read_all(target: Any, keys: list[str]) -> None:
        for key in keys:
            fact, arguments = _NOTED[target][key]
            with ctx_host.use(target):
                _ANSWERS.setdefault(target, {})[key] = pyinfra_facts.get_fact(
                    state, target, fact, kwargs=arguments(), apply_failed_hosts=False)

    keys = {target: [key for key in _NOTED.get(target, {}) if (target, key) != (first, reading)]
            for target in state.inventory.get_active_hosts()}
    others = [gevent.spawn(read_all, target, noted) for target, noted in keys.items() if target is not first and noted]
    answer = own()
    read_all(first, keys.get(first, []))
    gevent.joinall(others)
    return answer


def taken(target: Any, key: str) -> Any | None:
    """The answer read ahead for ``target``'s ``key``, once, while the run has changed nothing; else ``None``."""
    if target is ctx_host.context:
        # pyinfra's ``host`` proxy: the weak keys must be the Host itself
        target = ctx_host.get()
    answer = _ANSWERS.get(target, {}).pop(key, None)
    return answer if answer is not None and run_changed_nothing(target.state) else None
