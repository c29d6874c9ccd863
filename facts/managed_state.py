"""The state of everything the deploy manages on a host (files, systemd units, Debian packages), read
in one command at the first need and answered from that read afterwards.

pyinfra 3 keeps no fact cache (``host.get_fact`` runs its command every time) and runs an operation's
body only when the operation executes, one operation after another, so each fact costs a round trip
in sequence. The operations that manage something note it when they are defined (:func:`managing`);
the first :func:`managed` on a host reads every noted file, unit and package at once (the
``ManagedState`` fact), later calls answer from that read. The run's first read reads every other
host's at the same time (``facts.read_ahead``: one round trip where there was one per host in a row
of operations), taken by each host's first need while the run has changed nothing. What an
operation is about to change leaves the memo where the operation yields the change
(:func:`changing`), so whatever reads it later in the run reads it afresh: a file written, a unit
restarted, a package installed. Every change of a managed thing is yielded by an operation of this
deploy, which says so: that keeps the memo true.
A fact's output is printed when it fails: it holds digests and unit properties, never a file's content.

Example:

    @managing(lambda files, **_: Managed(paths=[desired.path for desired in files]))
    @operation()
    def k3s_config(files): ...

    managed(paths=["/etc/rancher/k3s/config.yaml"])["files"]   # first use: all of it in one command
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypedDict, TypeVar
from weakref import WeakKeyDictionary

from pyinfra.api import FactBase
from pyinfra.context import ctx_host

from facts import read_ahead
from facts.file_digests import FileDigest, digest_script, parse_digest_lines
from facts.sections import split_sections
from facts.systemctl_show import systemctl_show

P = ParamSpec("P")
R = TypeVar("R")

PACKAGES_MARKER = "--- packages"
UNIT_MARKER = "--- unit "
# What every reader of a unit needs: tasks.k3s_units (the k3s unit), tasks.systemd_timer (a timer and
# its service), tasks.haproxy (running and enabled).
PROPERTIES = ("LoadState,ActiveState,SubState,UnitFileState,FragmentPath,DropInPaths,ExecStartPre,"
              "Result,ExecMainStatus,ExecMainExitTimestamp,ExecMainStartTimestamp")


class HostState(TypedDict):
    """Files' digests (``None``: not a regular file), each unit's ``systemctl show`` properties, and
    whether each package is installed."""

    files: dict[str, FileDigest | None]
    units: dict[str, dict[str, list[str]]]
    packages: dict[str, bool]


def empty() -> HostState:
    return HostState(files={}, units={}, packages={})


def state_command(paths: list[str], units: list[str], packages: list[str]) -> str:
    """Digests of ``paths``, then ``dpkg-query`` of ``packages``, then ``systemctl show`` of each unit."""
    parts = [digest_script(paths)] if paths else []
    if packages:
        listed = " ".join(shlex.quote(package) for package in packages)
        # an unknown package is an error to dpkg-query: it is simply not installed
        parts += [f"echo {shlex.quote(PACKAGES_MARKER)}",
                  f"{{ dpkg-query -W -f='${{Package}} ${{db:Status-Abbrev}}\\n' {listed} 2>/dev/null || true; }}"]
    for unit in units:
        parts += [f"echo {shlex.quote(UNIT_MARKER + unit)}", f"systemctl show -p {PROPERTIES} {shlex.quote(unit)}"]
    return "; ".join(parts) or "true"


def parse_state(lines: list[str]) -> HostState:
    """Parse ``state_command`` output. A package is installed when dpkg's status letter (the second of
    ``db:Status-Abbrev``, ``ii``) says so; ``rc`` (removed, its conffiles kept) is not."""
    sections = split_sections(lines, PACKAGES_MARKER, UNIT_MARKER)
    packages = {}
    for line in sections.get(PACKAGES_MARKER, []):
        name, _, status = line.partition(" ")
        packages[name] = status[1:2] == "i"
    return HostState(
        files=parse_digest_lines(sections[""]),
        units={marker[len(UNIT_MARKER):]: systemctl_show(body)
               for marker, body in sections.items() if marker.startswith(UNIT_MARKER)},
        packages=packages,
    )


class ManagedState(FactBase[HostState]):
    """
    The files, units and packages asked for, in one command.

    .. code:: python

        host.get_fact(ManagedState, paths=["/etc/haproxy/haproxy.cfg"], units=["haproxy.service"],
                      packages=["haproxy"])
        {"files": {"/etc/haproxy/haproxy.cfg": {"mode": "644", "sha256": "9f86d08..."}},
         "units": {"haproxy.service": {"ActiveState": ["active"], "UnitFileState": ["enabled"], ...}},
         "packages": {"haproxy": True}}
    """

    @staticmethod
    def default() -> HostState:
        return empty()

    def command(self, paths: list[str], units: list[str], packages: list[str]) -> str:
        return state_command(paths, units, packages)

    def process(self, output: list[str]) -> HostState:
        return parse_state(output)


@dataclass(frozen=True)
class Managed:
    """What one operation manages on the host it is defined for."""

    paths: Iterable[str] = ()
    units: Iterable[str] = ()
    packages: Iterable[str] = ()


KINDS = ("files", "units", "packages")
# Keyed by the Host object itself (pyinfra's ``host`` is a proxy to the current one): each run has
# its own hosts, so nothing outlives the run. Kind (``KINDS``) -> items noted / item -> what was read.
_NOTED: WeakKeyDictionary[Any, dict[str, set[str]]] = WeakKeyDictionary()
_READ: WeakKeyDictionary[Any, dict[str, dict[str, Any]]] = WeakKeyDictionary()
AHEAD_KEY = "managed-state"


def manage(what: Managed) -> None:
    """Note that the current host's deploy manages ``what``, for the first read there."""
    noted = _NOTED.setdefault(ctx_host.get(), {kind: set() for kind in KINDS})
    for kind, items in zip(KINDS, (what.paths, what.units, what.packages), strict=True):
        noted[kind].update(items)
    read_ahead.note_ahead(AHEAD_KEY, ManagedState, lambda: {"paths": sorted(noted["files"]), "units": sorted(noted["units"]),
                                                            "packages": sorted(noted["packages"])})


def managing(what_of: Callable[..., Managed]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap an operation so that defining it for a host notes what its body reads (``what_of`` gets
    the operation's arguments).

    Example:
        @managing(lambda path, **_: Managed(paths=[path]))
        @operation()
        def manifest_absent(path: str): ...
    """
    def wrap(operation: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(operation)
        def defined(*args: P.args, **kwargs: P.kwargs) -> R:
            manage(what_of(*args, **kwargs))
            return operation(*args, **kwargs)
        return defined
    return wrap


def managed(paths: Iterable[str] = (), units: Iterable[str] = (), packages: Iterable[str] = ()) -> HostState:
    """The current host's state of what is asked: when any of it has not been read in this run,
    everything noted and not yet read is read with it in one ``ManagedState``.

    Example:
        managed(paths=["/usr/local/bin/k3s"])["files"]   # {"/usr/local/bin/k3s": {"mode": "755", ...}}
    """
    target = ctx_host.get()
    known = _READ.setdefault(target, {kind: {} for kind in KINDS})
    noted = _NOTED.get(target, {})
    asked = dict(zip(KINDS, (set(paths), set(units), set(packages)), strict=True))
    ahead = read_ahead.taken(target, AHEAD_KEY)
    if ahead is not None:
        _learn(known, {"packages": sorted(noted.get("packages", set()))}, ahead)
    if any(item not in known[kind] for kind, items in asked.items() for item in items):
        missing = {kind: sorted((items | noted.get(kind, set())) - known[kind].keys()) for kind, items in asked.items()}
        _learn(known, missing, read_ahead.first_read(target, AHEAD_KEY, lambda: target.get_fact(
            ManagedState, paths=missing["files"], units=missing["units"], packages=missing["packages"])))
    return HostState(files={path: known["files"].get(path) for path in asked["files"]},
                     units={unit: known["units"].get(unit, {}) for unit in asked["units"]},
                     packages={package: known["packages"].get(package, False) for package in asked["packages"]})


def _learn(known: dict[str, dict[str, Any]], asked: dict[str, list[str]], state: HostState) -> None:
    """What ``state`` (asked for ``asked``'s packages, among the rest) says, into what is known."""
    known["files"].update(state["files"])
    known["units"].update(state["units"])
    # a package dpkg does not list is not installed
    known["packages"].update({package: state["packages"].get(package, False) for package in asked["packages"]})


def file_digests(paths: Iterable[str]) -> dict[str, FileDigest | None]:
    """``managed(paths=paths)["files"]``."""
    return managed(paths=paths)["files"]


def changing(paths: Iterable[str] = (), units: Iterable[str] = (), packages: Iterable[str] = ()) -> None:
    """Forget what was read of these on the current host: an operation is about to change them.
    Call it where the change is yielded, so the next :func:`managed` reads them afresh."""
    target = ctx_host.get()
    # a command built where no host is current (a callback's own commands) has nothing read to forget
    known = _READ.get(target, {}) if target is not None else {}
    for kind, items in zip(KINDS, (paths, units, packages), strict=True):
        for item in items:
            known.get(kind, {}).pop(item, None)


def changing_anything() -> None:
    """Forget everything read on the current host: an operation is about to change what it cannot
    name (a package's install writes files and starts its units)."""
    _READ.pop(ctx_host.get(), None)
