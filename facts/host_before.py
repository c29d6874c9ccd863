"""What a k3s host holds before the deploy touches it, read in one command while the deploy is
prepared: the preflight report (``facts.preflight``), who wrote its k3s unit and with which flags
(``facts.installed_unit``), the digest of the token its cluster was bootstrapped with
(``facts.k3s_token``), and the images its containerd holds (``facts.node_images``).

Those were three round trips in a row on every k3s host before the first operation, and the images
one more after the nodes were Ready. The later readers (``tasks.k3s_units.unit_source``,
``tasks.k3s_token``) answer from this read while the deploy is still being prepared, when nothing
has run yet; afterwards they read their own fact. The images are read again unless the run has
changed nothing anywhere (``facts.read_ahead.run_changed_nothing``: a k3s that restarted imports
its archives), and before any image is called missing.

Example:

    host_before("k3s.service")["installed_unit"]   # {"writer": "deploy", "flags": []}
"""

from __future__ import annotations

import shlex
from typing import Any, TypedDict
from weakref import WeakKeyDictionary

from pyinfra.api import FactBase
from pyinfra.api.state import StateStage
from pyinfra.context import ctx_host

from facts.installed_unit import InstalledK3sUnit, InstalledUnit
from facts.k3s_token import BootstrappedTokenDigest
from facts.node_images import NodeImages
from facts.preflight import Preflight, PreflightReport
from facts.read_ahead import run_changed_nothing
from facts.sections import split_sections

INSTALLED_MARKER = "--- installed unit"
TOKEN_MARKER = "--- bootstrapped token"
IMAGES_MARKER = "--- images"


class HostBeforeState(TypedDict):
    preflight: PreflightReport
    installed_unit: InstalledUnit
    bootstrapped_token: str | None
    images: tuple[str, ...]


class HostBefore(FactBase[HostBeforeState]):
    """
    The preflight report, ``InstalledK3sUnit`` of ``unit`` and ``BootstrappedTokenDigest``, in one command.

    .. code:: python

        host.get_fact(HostBefore, unit="k3s.service")
        {"preflight": {"kmsg": "link", ...},
         "installed_unit": {"writer": "deploy", "flags": []}, "bootstrapped_token": "5e88489...",
         "images": ("docker.io/rancher/klipper-helm:v0.9.3-build20241008", ...)}
    """

    def command(self, unit: str) -> str:
        return "\n".join([Preflight().command(), f"echo {shlex.quote(INSTALLED_MARKER)}",
                          InstalledK3sUnit().command(unit), f"echo {shlex.quote(TOKEN_MARKER)}",
                          BootstrappedTokenDigest().command(), f"echo {shlex.quote(IMAGES_MARKER)}",
                          NodeImages().command()])

    def process(self, output: list[str]) -> HostBeforeState:
        sections = split_sections(output, INSTALLED_MARKER, TOKEN_MARKER, IMAGES_MARKER)
        return HostBeforeState(preflight=Preflight().process(sections[""]),
                               installed_unit=InstalledK3sUnit().process(sections.get(INSTALLED_MARKER, [])),
                               bootstrapped_token=BootstrappedTokenDigest().process(sections.get(TOKEN_MARKER, [])),
                               images=NodeImages().process(sections.get(IMAGES_MARKER, [])))


# Keyed by the Host object itself: each run has its own hosts, so nothing outlives the run.
# Host -> the unit asked about and the read.
_BEFORE: WeakKeyDictionary[Any, tuple[str, HostBeforeState]] = WeakKeyDictionary()


def host_before(unit: str) -> HostBeforeState:
    """Read the current host's state before the deploy (``HostBefore``), kept for the readers below."""
    target = ctx_host.get()
    found: HostBeforeState = target.get_fact(HostBefore, unit=unit)
    _BEFORE[target] = (unit, found)
    return found


def _before() -> tuple[str, HostBeforeState] | None:
    """This host's read and its unit, while nothing of the run has executed yet."""
    target = ctx_host.get()
    found = _BEFORE.get(target)
    if found is None or target.state.current_stage >= StateStage.Execute:
        return None
    return found


def installed_unit(unit: str) -> InstalledUnit:
    """``InstalledK3sUnit`` of ``unit``, from the read before the deploy when it can."""
    found = _before()
    if found is not None and found[0] == unit:
        return found[1]["installed_unit"]
    return ctx_host.get().get_fact(InstalledK3sUnit, unit=unit)


def bootstrapped_token() -> str | None:
    """``BootstrappedTokenDigest``, from the read before the deploy when it can."""
    found = _before()
    return found[1]["bootstrapped_token"] if found is not None else ctx_host.get().get_fact(BootstrappedTokenDigest)


def images_before() -> tuple[str, ...] | None:
    """The images the read before the deploy found, while the run has changed nothing; else ``None``.

    Example:
        held = images_before() or host.get_fact(NodeImages)
    """
    target = ctx_host.get()
    found = _BEFORE.get(target)
    return found[1]["images"] if found is not None and run_changed_nothing(target.state) else None
