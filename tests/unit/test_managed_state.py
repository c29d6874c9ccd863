"""One ManagedState read per host for everything the deploy manages there (facts.managed_state):
later uses answer from it, and what an operation of the run changes is read afresh."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace
from typing import Any

import pytest
from pyinfra.api import facts as pyinfra_facts
from pyinfra.context import ctx_host

from facts.managed_state import (
    PACKAGES_MARKER,
    UNIT_MARKER,
    Managed,
    ManagedState,
    file_digests,
    manage,
    managed,
    managing,
    parse_state,
    state_command,
)
from tasks.apt_packages import packages_installed
from tasks.desired_files import text_file
from tasks.haproxy import checked_config, haproxy_running
from tasks.k3s_binary import K3S_BIN, k3s_binary
from tasks.k3s_config import CONFIG, TOKEN_FILE, k3s_config
from tests.unit.operation_outputs import FakeHost, shown

FILES = [text_file(CONFIG, "node-name: k3s-worker-1\n", mode="600"),
         text_file(TOKEN_FILE, "K10secret\n", mode="600", secret=True)]
SHA = "a" * 64
HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"


class ReadingHost(FakeHost):
    """Answers ManagedState from what it holds, as the host would, and records each read."""

    def __init__(self, files: dict[str, Any], units: dict[str, dict[str, list[str]]] | None = None,
                 packages: dict[str, bool] | None = None) -> None:
        super().__init__({}, {"node_name": FakeHost.name, "k3s_binary_src": "/srv/k3s"})
        self.files, self.units, self.packages = files, units or {}, packages or {}
        self.reads: list[dict[str, list[str]]] = []

    def get_fact(self, fact: type, **asked: Any) -> Any:
        assert fact is ManagedState
        self.reads.append(asked)
        return {"files": {path: self.files.get(path) for path in asked["paths"]},
                "units": {unit: self.units.get(unit, {"LoadState": ["not-found"]}) for unit in asked["units"]},
                "packages": {package: True for package in asked["packages"] if self.packages.get(package)}}


def in_place() -> dict[str, Any]:
    return {K3S_BIN: {"mode": "755", "sha256": SHA},
            **{desired.path: {"mode": "600", "sha256": desired.sha256} for desired in FILES}}


def body(operation: Any, **arguments: Any) -> list[Any]:
    return [shown(command) for command in operation._inner(**arguments)]


def test_the_first_read_asks_for_everything_noted_and_later_ones_ask_nothing():
    host = ReadingHost(in_place())
    with ctx_host.use(host):
        manage(Managed(paths=[K3S_BIN]))
        manage(Managed(paths=[desired.path for desired in FILES], units=["k3s-agent.service"]))
        assert body(k3s_binary, sha256=SHA) == []
        assert body(k3s_config, files=FILES) == []
    assert host.reads == [{"paths": sorted([K3S_BIN, CONFIG, TOKEN_FILE]), "units": ["k3s-agent.service"],
                           "packages": []}]


def test_what_nobody_noted_is_read_on_its_own_need_once():
    host = ReadingHost({})
    with ctx_host.use(host):
        assert file_digests(["/etc/motd"]) == {"/etc/motd": None}
        assert file_digests(["/etc/motd"]) == {"/etc/motd": None}
    assert host.reads == [{"paths": ["/etc/motd"], "units": [], "packages": []}]


def test_a_file_an_earlier_operation_wrote_is_read_afresh():
    files = {**in_place(), CONFIG: {"mode": "600", "sha256": "b" * 64}}
    host = ReadingHost(files)
    with ctx_host.use(host):
        manage(Managed(paths=[K3S_BIN, CONFIG, TOKEN_FILE]))
        assert body(k3s_config, files=FILES)[0] == "mkdir -p /etc/rancher/k3s"
        host.files[CONFIG] = {"mode": "600", "sha256": FILES[0].sha256}   # the upload ran
        assert file_digests([CONFIG, TOKEN_FILE])[CONFIG] == {"mode": "600", "sha256": FILES[0].sha256}
    assert [read["paths"] for read in host.reads] == [sorted([K3S_BIN, CONFIG, TOKEN_FILE]), [CONFIG]]


def test_a_chmod_alone_also_reads_the_file_afresh():
    host = ReadingHost({**in_place(), TOKEN_FILE: {"mode": "644", "sha256": FILES[1].sha256}})
    with ctx_host.use(host):
        manage(Managed(paths=[CONFIG, TOKEN_FILE]))
        assert body(k3s_config, files=FILES) == ["chmod 600 /etc/rancher/k3s/token"]
        file_digests([TOKEN_FILE])
    assert host.reads[-1]["paths"] == [TOKEN_FILE]


def test_a_binary_being_replaced_is_read_afresh():
    host = ReadingHost({K3S_BIN: {"mode": "755", "sha256": "b" * 64}})
    with ctx_host.use(host):
        assert body(k3s_binary, sha256=SHA)[0] == "mkdir -p /usr/local/bin"
        file_digests([K3S_BIN])
    assert [read["paths"] for read in host.reads] == [[K3S_BIN], [K3S_BIN]]


def test_haproxy_installed_by_this_run_is_read_afresh_so_its_new_config_is_reloaded():
    # apt starts the packaged haproxy: the unit state read before the install is stale after it
    host = ReadingHost({HAPROXY_CFG: None}, units={"haproxy.service": {"ActiveState": ["inactive"]}})
    with ctx_host.use(host):
        manage(Managed(paths=[HAPROXY_CFG], units=["haproxy.service"], packages=["haproxy"]))
        assert body(packages_installed, packages=["haproxy"])[-1].endswith("apt-get install -y -qq haproxy")
        host.units["haproxy.service"] = {"ActiveState": ["active"], "UnitFileState": ["enabled"]}
        assert body(checked_config, content="global\n")[-1] == "systemctl reload haproxy"
        assert body(haproxy_running) == []
    assert len(host.reads) == 3   # before the install, after it, after the reload


def test_a_noop_haproxy_host_is_one_read():
    digest = {"mode": "644", "sha256": text_file(HAPROXY_CFG, "global\n").sha256}
    host = ReadingHost({HAPROXY_CFG: digest}, packages={"haproxy": True, "python3": True},
                       units={"haproxy.service": {"ActiveState": ["active"], "UnitFileState": ["enabled"]}})
    with ctx_host.use(host):
        manage(Managed(paths=[HAPROXY_CFG], units=["haproxy.service"], packages=["haproxy", "python3"]))
        assert body(packages_installed, packages=["haproxy", "python3"]) == []
        assert body(checked_config, content="global\n") == []
        assert body(haproxy_running) == []
    assert len(host.reads) == 1


def test_a_stopped_disabled_haproxy_is_started_and_enabled():
    host = ReadingHost({}, units={"haproxy.service": {"ActiveState": ["failed"], "UnitFileState": ["disabled"]}})
    with ctx_host.use(host):
        assert body(haproxy_running) == ["systemctl start haproxy.service", "systemctl enable haproxy.service"]


def test_each_host_has_its_own_reads():
    first, second = ReadingHost({}), ReadingHost({})
    for host in (first, second):
        with ctx_host.use(host):
            manage(Managed(paths=["/etc/motd"]))
            file_digests(["/etc/motd"])
    assert [read["paths"] for read in first.reads + second.reads] == [["/etc/motd"], ["/etc/motd"]]


def test_defining_a_wrapped_operation_notes_what_it_manages():
    defined: list[str] = []
    noted = managing(lambda path, **_: Managed(paths=[path]))(lambda path, **_: defined.append(path))
    host = ReadingHost({})
    with ctx_host.use(host):
        noted(path="/etc/motd", name="motd")
        file_digests(["/etc/issue"])
    assert (defined, host.reads[0]["paths"]) == (["/etc/motd"], ["/etc/issue", "/etc/motd"])


def test_the_command_reads_files_and_packages_on_this_machine(tmp_path):
    present = tmp_path / "it's here"
    present.write_text("x")
    present.chmod(0o640)
    command = state_command([str(present), str(tmp_path / "absent")], [], ["dpkg", "no-such-package-here"])
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    state = parse_state(done.stdout.splitlines())
    assert (state["files"][str(present)]["mode"], state["files"][str(tmp_path / "absent")], state["packages"]) == \
        ("640", None, {"dpkg": True})


def test_the_output_is_parsed_per_unit_and_package():
    lines = ["absent - /etc/haproxy/haproxy.cfg", PACKAGES_MARKER, "haproxy ii ", "oldpkg rc ",
             UNIT_MARKER + "haproxy.service", "ActiveState=active", "UnitFileState=enabled",
             UNIT_MARKER + "k3s.service", "LoadState=not-found"]
    assert parse_state(lines) == {
        "files": {"/etc/haproxy/haproxy.cfg": None},
        "units": {"haproxy.service": {"ActiveState": ["active"], "UnitFileState": ["enabled"]},
                  "k3s.service": {"LoadState": ["not-found"]}},
        "packages": {"haproxy": True, "oldpkg": False},
    }


def test_nothing_asked_is_a_command_that_succeeds():
    assert subprocess.run(["sh", "-c", state_command([], [], [])]).returncode == 0


def test_the_managed_answer_is_only_what_was_asked():
    host = ReadingHost({"/a": None, "/b": None})
    with ctx_host.use(host):
        manage(Managed(paths=["/a", "/b"]))
        assert managed(paths=["/a"]) == {"files": {"/a": None}, "units": {}, "packages": {}}


class Changed:
    """A completed operation that changed something."""

    def is_complete(self) -> bool:
        return True

    def did_change(self) -> bool:
        return True


@pytest.fixture
def pyinfra_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyinfra's own fact reader (the read ahead's) asks the stand-in hosts."""
    monkeypatch.setattr(pyinfra_facts, "get_fact",
                        lambda state, host, cls, kwargs=None, **_: host.get_fact(cls, **(kwargs or {})))


def two_hosts() -> tuple[ReadingHost, ReadingHost]:
    """Two hosts in one run, each managing one file."""
    first, second = ReadingHost({"/a": None}), ReadingHost({"/b": None})
    second.state = first.state
    first.state.inventory = SimpleNamespace(get_active_hosts=lambda: [first, second])
    for host, path in ((first, "/a"), (second, "/b")):
        with ctx_host.use(host):
            manage(Managed(paths=[path]))
    return first, second


def test_the_runs_first_read_reads_the_other_hosts_at_the_same_time(pyinfra_reads: None):
    first, second = two_hosts()
    with ctx_host.use(first):
        file_digests(["/a"])
    assert second.reads == [{"paths": ["/b"], "units": [], "packages": []}]
    with ctx_host.use(second):
        assert file_digests(["/b"]) == {"/b": None}
    assert len(second.reads) == 1


def test_what_was_read_ahead_is_read_afresh_once_the_run_changed_something(pyinfra_reads: None):
    first, second = two_hosts()
    with ctx_host.use(first):
        file_digests(["/a"])
    first.state.ops[first] = {"op": SimpleNamespace(operation_meta=Changed())}
    with ctx_host.use(second):
        file_digests(["/b"])
    assert len(second.reads) == 2
