"""pyinfra's own way of testing an operation: given facts, the commands it yields.

An operation's undecorated body (``op._inner``) runs against a stand-in host that answers
``get_fact`` from a mapping of fact class names, so nothing connects anywhere.

Example:

    commands, host = run(k3s_config, facts=host_state(files={}), files=config)
    commands[0] == "mkdir -p /etc/rancher/k3s"
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from pyinfra.api import FileUploadCommand, FunctionCommand, StringCommand
from pyinfra.context import ctx_host


class Data(dict):
    """Host data read as pyinfra's is: ``data.get(key)`` and ``data.key``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class FakeRun:
    """The pyinfra state a FakeHost is in: a run of its own, nothing executed yet, no other host."""

    def __init__(self, host: FakeHost) -> None:
        self.ops: dict[Any, dict[str, Any]] = {}
        self.inventory = SimpleNamespace(get_active_hosts=lambda: [host])


class FakeHost:
    """The host an operation body sees: its data, its facts, and what it logged."""

    name = "k3s-worker-1"

    def __init__(self, facts: dict[str, Any], data: dict[str, Any]) -> None:
        self.facts = facts
        self.data = Data(data)
        self.noop_description: str | None = None
        self.logged: list[str] = []
        self.state = FakeRun(self)

    def get_fact(self, fact: type, **_: Any) -> Any:
        return self.facts[fact.__name__]

    def get_temp_filename(self, path: str) -> str:
        return f"/tmp/pyinfra-{path.rsplit('/', 1)[-1]}"

    def noop(self, description: str) -> None:
        self.noop_description = description

    def log(self, message: str) -> None:
        self.logged.append(message)


def shown(command: Any) -> Any:
    """A command as pyinfra's operation tests write it: a shell line, or ``["upload", src, dest]``."""
    if isinstance(command, str):
        return command
    if isinstance(command, StringCommand):
        return command.get_raw_value()
    if isinstance(command, FileUploadCommand):
        source = command.src.getvalue().decode() if hasattr(command.src, "getvalue") else command.src
        return ["upload", source, command.dest]
    if isinstance(command, FunctionCommand):
        return [command.function.__name__]
    raise TypeError(f"{command!r} is not a pyinfra command")


def host_state(files: dict[str, Any] | None = None, units: dict[str, dict[str, list[str]]] | None = None,
               packages: dict[str, bool] | None = None) -> dict[str, Any]:
    """The ``facts`` of :func:`run` for an operation that reads ``facts.managed_state``: its one
    ``ManagedState`` answer (files' digests, units' ``systemctl show`` properties, packages)."""
    return {"ManagedState": {"files": files or {}, "units": units or {}, "packages": packages or {}}}


def run(operation: Callable[..., Any], facts: dict[str, Any], data: dict[str, Any] | None = None,
        **arguments: Any) -> tuple[list[Any], FakeHost]:
    """The commands ``operation`` yields for ``arguments`` on a host with ``facts`` and ``data``."""
    host = FakeHost(facts, {"node_name": FakeHost.name, **(data or {})})
    with ctx_host.use(host):
        commands = [shown(command) for command in operation._inner(**arguments)]  # type: ignore[attr-defined]
    return commands, host
