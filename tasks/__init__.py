"""pyinfra operations of the deploy, one concern per module, plus the helpers they share:
rendering templates and waiting with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import jinja2
from pyinfra import host, logger
from pyinfra.api import operation

from tasks.settings import SETTINGS, one_of
from tasks.settings import data_error as data_error

TEMPLATES = Path(__file__).resolve().parent / "templates"
_jinja = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


# tasks/restart.py imports choice and data_error from here, tasks/k3s_ready.py data_error (other
# changes rewrite both files); new code reads host data through tasks.settings. Drop both then.
def choice(key: str, allowed: tuple[str, ...], default: str) -> str:
    """``settings.one_of(key)``; ``allowed`` and ``default`` must be the table's."""
    setting = SETTINGS[key]
    assert (allowed, default) == (setting.choices, setting.default), f"{key}: see tasks/settings.py"
    return one_of(key)


@operation()
def all_hosts_reach(point: str) -> Generator[Any, None, None]:
    """
    An ordering point: call it on every host from the same line, and no host starts what follows
    before every host has done what precedes. pyinfra orders operations as a graph of each host's
    own sequence, so a host with nothing in common with the others would otherwise run ahead
    (HAProxy waiting for Rancher before k3s is even installed).

    + point: what has been reached, for the log

    **Example:**

    .. code:: python

        all_hosts_reach(name="Cluster and Rancher up", point="cluster and Rancher up")
    """
    host.noop(f"reached: {point}")
    yield from ()


def poll_until(problem: Callable[[], str], timeout: float, interval: float) -> str:
    """Call ``problem()`` (empty when all is well) until it is empty or ``timeout`` passes, and
    return its last answer. Not a fixed sleep: it returns as soon as all is well.

    Example:
        left = poll_until(lambda: "tainted" if tainted() else "", 20, 2)
    """
    deadline = time.monotonic() + timeout
    while True:
        found = problem()
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(interval)


def wait_until(target: Any, problem: Callable[[], str], timeout: float, interval: float, what: str) -> bool:
    """:func:`poll_until`, then, when the problem stays, one line on ``target``:
    ``<what> after <timeout>s: <problem>``.

    Example:
        wait_until(host, lambda: "" if up() else "still down", 60, 1, "haproxy: servers not UP")
    """
    found = poll_until(problem, timeout, interval)
    if found:
        target.log_styled(f"{what} after {timeout:g}s: {found}", fg="red", log_func=logger.error)
    return not found


def render(template: str, **variables: Any) -> str:
    """Render ``tasks/templates/<template>``; a missing variable is an error, not an empty string."""
    return _jinja.get_template(template).render(**variables)
