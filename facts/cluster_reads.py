"""The Kubernetes reads a deploy makes on its waiting control node (the nodes' Ready condition,
cert-manager's and Rancher's status, the legacy Service, Rancher's TLS objects), asked in one
``facts.kube_reads`` run (at the run's first read, ``facts.read_ahead``, else at the first need)
and each answered from it once, while the run has changed nothing.

pyinfra 3 runs each fact when an operation's body needs it, one operation after another: these
five were five round trips in a row on a no-op run. Each part is noted when its operation is
defined (:func:`note`), so the first :func:`taken` on the host reads every noted part at once
(one API connection; a GET two parts share is asked once). A part is answered from that read only
once (a wait polls afresh) and only while no operation of the run, on any host, has changed
anything (a manifest written or an object deleted since the read changes what the API says);
otherwise :func:`taken` is ``None`` and the caller reads its own fact.

Example:

    note("rancher-lb", [{"read": "exists", "section": "object", "path": "/api/v1/.../rancher-lb"}])
    taken(host, "rancher-lb")   # {"object": ""} once, then None
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from weakref import WeakKeyDictionary

from pyinfra.api import FactBase
from pyinfra.context import ctx_host

from facts import kube_reads, read_ahead
from facts.chart_status import section_texts
from facts.names import KUBE_API
from facts.read_ahead import run_changed_nothing

Obj = dict[str, Any]
P = ParamSpec("P")
R = TypeVar("R")
# a part's sections are named "<part>/<section>" in the combined run
SEPARATOR = "/"
AHEAD_KEY = "cluster-reads"

# Keyed by the Host object itself: each run has its own hosts, so nothing outlives the run.
_NOTED: WeakKeyDictionary[Any, dict[str, list[Obj]]] = WeakKeyDictionary()
_READ: WeakKeyDictionary[Any, dict[str, dict[str, str]]] = WeakKeyDictionary()


def combined(parts: dict[str, list[Obj]]) -> list[Obj]:
    """Every part's reads, their sections named ``<part>/<section>``."""
    return [{**read, "section": f"{part}{SEPARATOR}{read['section']}"} for part, reads in parts.items() for read in reads]


def split_parts(sections: dict[str, str]) -> dict[str, dict[str, str]]:
    """The combined run's sections back per part, under their own names."""
    parts: dict[str, dict[str, str]] = {}
    for name, text in sections.items():
        part, _, section = name.partition(SEPARATOR)
        parts.setdefault(part, {})[section] = text
    return parts


class ClusterReads(FactBase[dict[str, dict[str, str]]]):
    """
    Returns each part's sections (``facts.chart_status.section_texts``) of one ``kube_reads`` run.

    .. code:: python

        host.get_fact(ClusterReads, parts={"rancher-lb": [{"read": "exists", "section": "object",
                                                           "path": "/api/v1/namespaces/cattle-system/services/rancher-lb"}]})
        {"rancher-lb": {"object": ""}}
    """

    default = dict

    def requires_command(self, parts: dict[str, list[Obj]]) -> str:
        return "python3"

    def command(self, parts: dict[str, list[Obj]]) -> str:
        return kube_reads.command(KUBE_API, combined(parts))

    def process(self, output: list[str]) -> dict[str, dict[str, str]]:
        return split_parts(section_texts(output))


def note(part: str, reads: list[Obj]) -> None:
    """Note that an operation defined for the current host will need ``part`` (its ``kube_reads`` reads)."""
    target = ctx_host.get()
    noted = _NOTED.setdefault(target, {})
    noted[part] = reads
    read_ahead.note_ahead(AHEAD_KEY, ClusterReads, lambda: {"parts": dict(noted)})


def noting(parts_of: Callable[..., dict[str, list[Obj]]]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap an operation so that defining it for a host notes the parts ``parts_of`` (given the
    operation's arguments) says its body will need there.

    Example:
        @noting(lambda waits_here, **_: {"nodes": NODES_READS} if waits_here else {})
        @operation()
        def nodes_ready(names, waits_here, timeout): ...
    """
    def wrap(operation: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(operation)
        def defined(*args: P.args, **kwargs: P.kwargs) -> R:
            for part, reads in parts_of(*args, **kwargs).items():
                note(part, reads)
            return operation(*args, **kwargs)
        return defined
    return wrap


def taken(target: Any, part: str) -> dict[str, str] | None:
    """``part``'s sections from the run's one read of every noted part on ``target``, once, while the
    run has changed nothing; ``None`` otherwise (the caller reads its own fact).

    Example:
        sections = taken(host, "rancher")
        status = rancher_status(sections) if sections is not None else host.get_fact(RancherStatus, ...)
    """
    if target is ctx_host.context:
        # pyinfra's ``host`` proxy: the weak keys must be the Host itself
        target = ctx_host.get()
    noted = _NOTED.get(target, {})
    if part not in noted or not run_changed_nothing(target.state):
        return None
    if target not in _READ:
        ahead = read_ahead.taken(target, AHEAD_KEY)
        _READ[target] = ahead if ahead is not None else \
            read_ahead.first_read(target, AHEAD_KEY, lambda: target.get_fact(ClusterReads, parts=noted))
    return _READ[target].pop(part, None)
