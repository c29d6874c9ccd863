"""
Charts installed the k3s way: a HelmChart manifest in k3s's auto-deploy directory on the control
nodes (k3s applies it, its helm-controller runs the install job), an air-gapped chart archive in
k3s's ``server/static/charts`` beside it, removal with the objects the manifest created, and a wait
until the chart's workload answers that fails with one line saying why.

Example:

    chart_archive_present(name="Rancher chart archive", source=values.chart)
    manifest_present(name="Rancher manifest", path=manifest_path("rancher"), content=manifest)
"""

from __future__ import annotations

from collections.abc import Callable

from pyinfra import host
from pyinfra.api import FunctionCommand, StringCommand, operation
from pyinfra.api.command import QuoteString
from pyinfra.api.host import Host

from facts.managed_state import Managed, changing, file_digests, managing
from tasks import wait_until
from tasks.chart_source import ChartSource
from tasks.desired_files import DesiredFile, desired_files, text_file


@managing(lambda path, **_: Managed(paths=[path]))
@operation()
def manifest_present(path: str, content: str):
    """
    Write a manifest 0600 (it may hold secrets), never readable by others on the way and never
    printed, not even with ``--diff`` (``tasks.desired_files``; its staged ``.<name>.new`` is a name
    k3s does not apply). k3s creates its manifests directory on first start; before that it is
    created 0700 here. Name the operation: unnamed operations print their arguments.

    Example:

    .. code:: python

        manifest_present(name="Rancher HelmChart manifest", path=manifest_path("rancher"), content=manifest)
    """
    yield from desired_files([text_file(path, content, mode="600", secret=True)], f"{path} is up to date")


@managing(lambda source, **_: Managed(paths=[source.static_path] if source.file and source.static_path else []))
@operation()
def chart_archive_present(source: ChartSource):
    """
    Put a local chart archive where k3s serves it to the helm job (``static/charts``); a
    repository chart needs nothing.

    Example:

    .. code:: python

        chart_archive_present(name="cert-manager chart archive", source=source)
    """
    if source.file is None or source.static_path is None:
        host.noop(f"chart {source.name} comes from {source.repo}")
        return
    archive = DesiredFile(source.static_path, source.file.read_bytes(), mode="644")
    yield from desired_files([archive], f"{source.static_path} is up to date")


@managing(lambda path, **_: Managed(paths=[path]))
@operation()
def manifest_absent(path: str):
    """
    Remove a k3s manifest and the objects it created.

    k3s's deploy controller does not promise to delete what a removed file applied, so the
    objects are deleted from the file first (no wait: the helm-controller uninstalls the chart).

    Example:

    .. code:: python

        manifest_absent(name="Rancher manifest absent", path=manifest_path("rancher"))
    """
    if not file_digests([path])[path]:
        host.noop(f"{path} is absent")
        return
    changing([path])
    yield StringCommand(
        "k3s", "kubectl", "delete", "--ignore-not-found", "--wait=false", "-f", QuoteString(path),
        "&&", "rm", "-f", QuoteString(path),
    )


@operation()
def chart_ready(problem: Callable[[Host], str | None], what: str, timeout: float, interval: float = 2.0):
    """
    Wait until ``problem(host)`` (a fact read: one line, or None when the chart's workload answers)
    is None, polling one command at a time; on timeout fail with its last line.

    Example:

    .. code:: python

        chart_ready(name="Rancher answers /ping", problem=rancher_problem, what="rancher: not reachable",
                    timeout=600)
    """
    if problem(host) is None:
        host.noop(f"{what.split(':')[0]} is ready")
        return

    # pyinfra passes state and host only to parameters with exactly those names.
    def wait(state, host: Host, timeout: float, interval: float) -> bool:
        return wait_until(host, lambda: problem(host) or "", timeout, interval, what)

    yield FunctionCommand(wait, (timeout, interval), {})
