"""
Rancher installed the k3s way: a HelmChart manifest in k3s's auto-deploy directory on the
control nodes, applied by k3s itself, then a wait until Rancher answers ``/ping``.

Opt-in: with host data ``rancher`` (a mapping, fields in ``tasks/rancher_values.py``) the
manifest is written; without it a manifest left from before is removed with its objects.
Values are validated before anything is written: a bad one fails the run with
``rancher: host <host>: field <field>: <reason>`` and the live manifest stays.
The manifest holds the bootstrap password: it is written 0600 and never shown.
"""

from __future__ import annotations

from pyinfra import host, inventory
from pyinfra.api import FunctionCommand, StringCommand, deploy, operation
from pyinfra.api.command import QuoteString
from pyinfra.api.exceptions import PyinfraError

from facts.file_digests import FileDigests
from facts.rancher import RancherStatus
from tasks import wait_until
from tasks.desired_files import desired_files, text_file
from tasks.rancher_values import rancher_values, render_manifest
from tasks.settings import InvalidField, value

MANIFEST_PATH = "/var/lib/rancher/k3s/server/manifests/rancher.yaml"


@operation()
def manifest_present(content: str, path: str = MANIFEST_PATH):
    """
    Write the manifest 0600 (it holds the bootstrap password), never readable by others on the
    way and never printed, not even with ``--diff`` (``tasks.desired_files``; its staged
    ``.rancher.yaml.new`` is a name k3s does not apply). k3s creates its manifests directory on first
    start; before that it is created 0700 here.
    Name the operation: unnamed operations print their arguments.

    Example:

    .. code:: python

        manifest_present(name="Rancher manifest", content=manifest)
    """
    yield from desired_files([text_file(path, content, mode="600", secret=True)], f"{path} is up to date")


@operation()
def manifest_absent(path: str):
    """
    Remove a k3s manifest and the objects it created.

    k3s's deploy controller does not promise to delete what a removed file applied, so the
    objects are deleted from the file first (no wait: the helm-controller uninstalls the chart).

    Example:

    .. code:: python

        manifest_absent(name="Rancher manifest absent", path=MANIFEST_PATH)
    """
    if not host.get_fact(FileDigests, paths=[path]).get(path):
        host.noop(f"{path} is absent")
        return
    yield StringCommand(
        "k3s", "kubectl", "delete", "--ignore-not-found", "--wait=false", "-f", QuoteString(path),
        "&&", "rm", "-f", QuoteString(path),
    )


def _wait_until_ready(state, host, timeout: float, interval: float) -> bool:
    def problem() -> str:
        status = host.get_fact(RancherStatus)
        return "" if status["ready"] else status["problem"]

    return wait_until(host, problem, timeout, interval, "rancher: not reachable")


@operation()
def rancher_ready(timeout: float, interval: float = 2.0):
    """
    Wait until ``cattle-system/rancher`` is Available and ``/ping`` through its ClusterIP
    answers ``pong``, polling one command at a time; on timeout fail with one line saying why
    (HelmChart job failed, pod Pending with the scheduler's message, image pull, svclb
    Pending, tainted nodes).

    Example:

    .. code:: python

        rancher_ready(name="Rancher answers /ping", timeout=600)
    """
    if host.get_fact(RancherStatus)["ready"]:
        host.noop("Rancher answers /ping")
        return
    yield FunctionCommand(_wait_until_ready, (timeout, interval), {})


@deploy("Rancher from a HelmChart manifest")
def rancher() -> None:
    """Ensure Rancher is installed (or removed) as host data ``rancher`` says."""
    if "k3s_control" not in host.groups:
        return
    if value("rancher") is None:
        manifest_absent(name="Rancher manifest absent", path=MANIFEST_PATH)
        return

    try:
        values = rancher_values(host.data.dict())
    except InvalidField as error:
        raise PyinfraError(f"rancher: host {host.name}: {error}") from None

    manifest_present(name="Rancher HelmChart manifest", content=render_manifest(values))
    # Every server applies the same manifest to one cluster: one of them waits for it.
    if host.name == inventory.get_group("k3s_control")[0].name:
        rancher_ready(name="Rancher answers /ping", timeout=values.wait_seconds)
