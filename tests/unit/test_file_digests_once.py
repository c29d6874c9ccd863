"""One FileDigests read per host for every file the deploy manages there (facts.file_digests), and a
file an operation of the run writes is read afresh afterwards."""

from __future__ import annotations

from typing import Any

from pyinfra.context import ctx_host

from facts.file_digests import FileDigests, file_digests, manage, managing
from tasks.desired_files import text_file
from tasks.k3s_binary import K3S_BIN, k3s_binary
from tasks.k3s_config import CONFIG, TOKEN_FILE, k3s_config
from tests.unit.operation_outputs import FakeHost, shown

FILES = [text_file(CONFIG, "node-name: k3s-worker-1\n", mode="600"),
         text_file(TOKEN_FILE, "K10secret\n", mode="600", secret=True)]
SHA = "a" * 64


class ReadingHost(FakeHost):
    """Answers FileDigests from its files, as the host would, and counts the reads."""

    def __init__(self, files: dict[str, dict[str, str] | None]) -> None:
        super().__init__({}, {"node_name": FakeHost.name, "k3s_binary_src": "/srv/k3s"})
        self.files = files
        self.reads: list[list[str]] = []

    def get_fact(self, fact: type, **arguments: Any) -> Any:
        assert fact is FileDigests
        self.reads.append(arguments["paths"])
        return {path: self.files.get(path) for path in arguments["paths"]}


def in_place() -> dict[str, dict[str, str] | None]:
    return {K3S_BIN: {"mode": "755", "sha256": SHA},
            **{desired.path: {"mode": "600", "sha256": desired.sha256} for desired in FILES}}


def body(operation: Any, **arguments: Any) -> list[Any]:
    return [shown(command) for command in operation._inner(**arguments)]


def test_the_first_read_asks_for_every_managed_path_and_later_ones_ask_nothing():
    host = ReadingHost(in_place())
    with ctx_host.use(host):
        manage([K3S_BIN])
        manage([desired.path for desired in FILES])
        assert body(k3s_binary, sha256=SHA) == []
        assert body(k3s_config, files=FILES) == []
    assert host.reads == [sorted([K3S_BIN, CONFIG, TOKEN_FILE])]


def test_a_path_nobody_noted_is_read_on_its_own_need():
    host = ReadingHost({"/etc/motd": None})
    with ctx_host.use(host):
        assert file_digests(["/etc/motd"]) == {"/etc/motd": None}
        assert file_digests(["/etc/motd"]) == {"/etc/motd": None}
    assert host.reads == [["/etc/motd"]]


def test_a_file_an_earlier_operation_wrote_is_read_afresh():
    files = in_place()
    files[CONFIG] = {"mode": "600", "sha256": "b" * 64}
    host = ReadingHost(files)
    with ctx_host.use(host):
        manage([K3S_BIN, CONFIG, TOKEN_FILE])
        assert file_digests([CONFIG])[CONFIG] == {"mode": "600", "sha256": "b" * 64}
        assert body(k3s_config, files=FILES)[0] == "mkdir -p /etc/rancher/k3s"
        host.files[CONFIG] = {"mode": "600", "sha256": FILES[0].sha256}   # the upload ran
        assert file_digests([CONFIG, TOKEN_FILE])[CONFIG] == {"mode": "600", "sha256": FILES[0].sha256}
    assert host.reads == [sorted([K3S_BIN, CONFIG, TOKEN_FILE]), [CONFIG]]


def test_a_chmod_alone_also_reads_the_file_afresh():
    files = in_place()
    files[TOKEN_FILE] = {"mode": "644", "sha256": FILES[1].sha256}
    host = ReadingHost(files)
    with ctx_host.use(host):
        manage([CONFIG, TOKEN_FILE])
        assert body(k3s_config, files=FILES) == ["chmod 600 /etc/rancher/k3s/token"]
        file_digests([TOKEN_FILE])
    assert host.reads[-1] == [TOKEN_FILE]


def test_a_binary_being_replaced_is_read_afresh():
    host = ReadingHost({K3S_BIN: {"mode": "755", "sha256": "b" * 64}})
    with ctx_host.use(host):
        assert body(k3s_binary, sha256=SHA)[0] == "mkdir -p /usr/local/bin"
        file_digests([K3S_BIN])
    assert host.reads == [[K3S_BIN], [K3S_BIN]]


def test_each_host_has_its_own_reads():
    first, second = ReadingHost({}), ReadingHost({})
    for host in (first, second):
        with ctx_host.use(host):
            manage(["/etc/motd"])
            file_digests(["/etc/motd"])
    assert (first.reads, second.reads) == ([["/etc/motd"]], [["/etc/motd"]])


def test_defining_a_wrapped_operation_notes_its_paths():
    defined: list[str] = []
    noted = managing(lambda path, **_: [path])(lambda path, **_: defined.append(path))
    host = ReadingHost({})
    with ctx_host.use(host):
        noted(path="/etc/motd", name="motd")
        file_digests(["/etc/issue"])
    assert (defined, host.reads) == (["/etc/motd"], [["/etc/issue", "/etc/motd"]])

