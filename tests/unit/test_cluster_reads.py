"""The waiting control node's cluster reads (facts.cluster_reads): one kube_reads run for every noted
part, each part answered from it once, and never after an operation of the run changed something."""

from __future__ import annotations

import json
import shlex
import subprocess
from types import SimpleNamespace
from typing import Any

from pyinfra.context import ctx_host

from facts.cluster_reads import ClusterReads, combined, note, split_parts, taken
from facts.kube_object import exists_reads
from facts.kube_reads import MARK
from tasks.rancher import LEGACY_PART, legacy_service_absent
from tests.unit.operation_outputs import FakeHost


class Meta:
    def __init__(self, changed: bool) -> None:
        self.changed = changed

    def is_complete(self) -> bool:
        return True

    def did_change(self) -> bool:
        return self.changed


class ApiHost(FakeHost):
    """Answers ClusterReads with each noted part's sections and counts the reads; ``ops`` are the
    run's completed operations (whether each changed something)."""

    def __init__(self, answers: dict[str, dict[str, str]]) -> None:
        super().__init__({}, {"node_name": "k3s-control"})
        self.answers = answers
        self.reads: list[list[str]] = []
        self.state.ops[self] = {}

    def completed(self, changed: bool) -> None:
        self.state.ops[self][str(len(self.state.ops[self]))] = SimpleNamespace(operation_meta=Meta(changed))

    def get_fact(self, fact: type, **arguments: Any) -> Any:
        assert fact is ClusterReads
        self.reads.append(sorted(arguments["parts"]))
        return {part: self.answers[part] for part in arguments["parts"]}


LEGACY = exists_reads("/api/v1/namespaces/cattle-system/services/rancher-lb")
TLS = [{"section": "api", "read": "readyz"}]


def test_every_noted_part_is_read_at_the_first_need_and_each_is_answered_once():
    host = ApiHost({"rancher-lb": {"object": ""}, "rancher-tls": {"api": "ok"}})
    with ctx_host.use(host):
        note("rancher-lb", LEGACY)
        note("rancher-tls", TLS)
    host.completed(changed=False)
    assert taken(host, "rancher-lb") == {"object": ""}
    assert taken(host, "rancher-tls") == {"api": "ok"}
    assert (taken(host, "rancher-tls"), host.reads) == (None, [["rancher-lb", "rancher-tls"]])


def test_after_a_change_anywhere_in_the_run_each_part_is_read_by_its_own_fact():
    host = ApiHost({"rancher-lb": {"object": ""}, "rancher-tls": {"api": "ok"}})
    with ctx_host.use(host):
        note("rancher-lb", LEGACY)
        note("rancher-tls", TLS)
    assert taken(host, "rancher-lb") == {"object": ""}
    host.completed(changed=True)   # e.g. the Rancher manifest was written
    assert (taken(host, "rancher-tls"), host.reads) == (None, [["rancher-lb", "rancher-tls"]])


def test_a_part_nobody_noted_is_not_read_here():
    host = ApiHost({})
    assert (taken(host, "rancher"), host.reads) == (None, [])


def test_the_combined_sections_come_back_per_part():
    parts = {"rancher-lb": LEGACY, "rancher-tls": TLS}
    sections = [read["section"] for read in combined(parts)]
    assert sections == ["rancher-lb/object", "rancher-tls/api"]
    output = [MARK + "rancher-lb/object", "", MARK + "rancher-tls/api", "ok"]
    assert ClusterReads().process(output) == {"rancher-lb": {"object": ""}, "rancher-tls": {"api": "ok"}}
    assert split_parts({"a/x": "1", "a/y": "2"}) == {"a": {"x": "1", "y": "2"}}


def test_the_command_is_one_kube_reads_run_with_every_part():
    command = ClusterReads().command({"rancher-lb": LEGACY, "rancher-tls": TLS})
    request = json.loads(shlex.split(command)[-1])
    assert [read["section"] for read in request["reads"]] == ["rancher-lb/object", "rancher-tls/api"]


def test_the_legacy_service_check_answers_from_the_combined_read():
    host = ApiHost({LEGACY_PART: {"object": "rancher-lb"}})
    with ctx_host.use(host):
        note(LEGACY_PART, LEGACY)
        commands = list(legacy_service_absent._inner())
    assert ([str(command) for command in commands], host.reads) == \
        (["k3s kubectl -n cattle-system delete service rancher-lb --ignore-not-found"], [[LEGACY_PART]])


def test_pyinfras_host_proxy_is_the_current_host():
    host = ApiHost({"rancher-lb": {"object": ""}})
    with ctx_host.use(host):
        note("rancher-lb", LEGACY)
        assert taken(ctx_host.context, "rancher-lb") == {"object": ""}
    assert host.reads == [["rancher-lb"]]


def test_the_real_program_answers_each_part_under_its_own_sections():
    # no k3s here: every read answers the credentials error, each in its own part's section
    command = ClusterReads().command({"rancher-lb": LEGACY, "rancher-tls": TLS})
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    parts = ClusterReads().process(done.stdout.splitlines())
    assert sorted((part, sorted(sections)) for part, sections in parts.items()) == \
        [("rancher-lb", ["object"]), ("rancher-tls", ["api"])]
    assert parts["rancher-tls"]["api"].startswith("Kubernetes API credentials")
