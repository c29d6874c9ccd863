"""The rolling upgrade ends on a cluster that serves as it did before: each Deployment that was rolled
out when it started (facts/deployments.py, read on the first server while the run is prepared) is
rolled out again, its pods evicted from the last drained node running elsewhere or back, before the
upgrade verifies and an operator's next step (a deploy, another drain) meets a budget still spent.

Example:
    deployments_rolled_out_again(name="Deployments rolled out again", before=before, timeout=300)
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

from pyinfra import logger
from pyinfra.api import FunctionCommand, operation
from pyinfra.api.host import Host
from pyinfra.api.state import State

from facts.deployments import deployments_command, rolled_out_names
from tasks import poll_until

POLL_SECONDS = 2


def not_rolled_out(before: frozenset[str], now: frozenset[str] | None) -> str:
    """Which of ``before`` are not rolled out ``now`` (one line; empty when all are).

    Example:
        not_rolled_out(frozenset({"cattle-system/rancher"}), frozenset())
        # "not rolled out again: cattle-system/rancher"
    """
    if now is None:
        return "the API does not answer"
    missing = sorted(before - now)
    return f"not rolled out again: {', '.join(missing)}" if missing else ""


def rolled_out_now(control: Host) -> frozenset[str] | None:
    ok, output = control.run_shell_command(deployments_command(), _timeout=30)
    return rolled_out_names(json.loads(output.stdout)) if ok else None


def wait_rolled_out(state: State, host: Host, before: frozenset[str], timeout: int) -> bool:
    """FunctionCommand body: poll until every Deployment of ``before`` is rolled out again."""
    problem = poll_until(lambda: not_rolled_out(before, rolled_out_now(host)), timeout, POLL_SECONDS)
    if problem:
        logger.error(f"{host.print_prefix}{timeout}s after the last node: {problem}")
    return not problem


@operation(is_idempotent=False)
def deployments_rolled_out_again(before: frozenset[str], timeout: int) -> Generator[Any, None, None]:
    """
    Wait until each Deployment of ``before`` is rolled out again (``kubectl rollout status``'s test).

    + before: ``namespace/name`` of the Deployments rolled out before the nodes were drained
    + timeout: seconds to wait

    **Example:**

    .. code:: python

        deployments_rolled_out_again(name="Deployments rolled out again", before=before, timeout=300)
    """
    yield FunctionCommand(wait_rolled_out, (before, timeout), {})
