"""HostBefore: the preflight report, the installed k3s unit and the bootstrapped token's digest in one
command while the deploy is prepared; its readers answer from it until anything executes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pyinfra.api.state import StateStage
from pyinfra.context import ctx_host

from facts.host_before import (
    IMAGES_MARKER,
    INSTALLED_MARKER,
    TOKEN_MARKER,
    HostBefore,
    bootstrapped_token,
    host_before,
    installed_unit,
)
from facts.installed_unit import InstalledK3sUnit
from facts.k3s_token import BootstrappedTokenDigest
from facts.node_images import NodeImages
from facts.preflight import Preflight
from tasks.airgap_images import images_present
from tests.unit.operation_outputs import FakeHost

PREFLIGHT = (Path(__file__).resolve().parent / "fixtures" / "preflight" / "lab-overlay-hybrid-ssh.txt").read_text().splitlines()
RANCHER = "docker.io/rancher/rancher:v2.10.1"
OUTPUT = [*PREFLIGHT, INSTALLED_MARKER, json.dumps({"writer": "other", "flags": ["--disable"]}), TOKEN_MARKER, "ab" * 32,
          IMAGES_MARKER, RANCHER, "sha256:0123"]


class PreparingHost(FakeHost):
    """Answers HostBefore with OUTPUT parsed, the single facts with other values; counts the reads."""

    def __init__(self) -> None:
        super().__init__({}, {"node_name": "k3s-control"})
        self.state = SimpleNamespace(current_stage=StateStage.Prepare, ops={self: {}})
        self.asked: list[str] = []
        self.images: tuple[str, ...] = (RANCHER,)

    def get_fact(self, fact: type, **arguments: Any) -> Any:
        self.asked.append(fact.__name__)
        if fact is HostBefore:
            return HostBefore().process(OUTPUT)
        if fact is NodeImages:
            return self.images
        return {"writer": "deploy", "flags": []} if fact is InstalledK3sUnit else None


def test_the_three_reads_come_apart_from_one_output():
    found = HostBefore().process(OUTPUT)
    assert (found["preflight"], found["installed_unit"], found["bootstrapped_token"], found["images"]) == \
        (Preflight().process(PREFLIGHT), {"writer": "other", "flags": ["--disable"]}, "ab" * 32, (RANCHER,))


def test_the_command_is_the_three_commands_in_one():
    command = HostBefore().command("k3s.service")
    assert [part in command for part in (Preflight().command(), InstalledK3sUnit().command("k3s.service"),
                                         BootstrappedTokenDigest().command())] == [True, True, True]


def test_the_readers_answer_from_it_while_the_deploy_is_prepared():
    host = PreparingHost()
    with ctx_host.use(host):
        host_before("k3s.service")
        assert (installed_unit("k3s.service"), bootstrapped_token()) == \
            ({"writer": "other", "flags": ["--disable"]}, "ab" * 32)
    assert host.asked == ["HostBefore"]


def test_once_anything_executes_they_read_their_own_facts():
    host = PreparingHost()
    with ctx_host.use(host):
        host_before("k3s.service")
        host.state.current_stage = StateStage.Execute
        assert (installed_unit("k3s.service"), bootstrapped_token()) == ({"writer": "deploy", "flags": []}, None)
    assert host.asked == ["HostBefore", "InstalledK3sUnit", "BootstrappedTokenDigest"]


def test_another_unit_is_read_on_its_own():
    host = PreparingHost()
    with ctx_host.use(host):
        host_before("k3s.service")
        assert installed_unit("k3s-agent.service") == {"writer": "deploy", "flags": []}


def images_checked(host: PreparingHost, images: list[str]) -> list[Any]:
    with ctx_host.use(host):
        host_before("k3s.service")
        return list(images_present._inner(images=images))


def test_images_the_read_before_found_need_no_read_while_nothing_changed():
    host = PreparingHost()
    assert (images_checked(host, ["rancher/rancher:v2.10.1"]), host.asked) == ([], ["HostBefore"])


def test_an_image_the_read_before_missed_is_looked_for_again_before_it_is_called_missing():
    host = PreparingHost()
    host.images = (RANCHER, "docker.io/rancher/mirrored-pause:3.6")   # k3s imported it meanwhile
    assert (images_checked(host, ["rancher/mirrored-pause:3.6"]), host.asked) == ([], ["HostBefore", "NodeImages"])


def test_after_a_change_in_the_run_the_images_are_read_again():
    host = PreparingHost()
    host.state.ops[host]["op"] = SimpleNamespace(operation_meta=SimpleNamespace(is_complete=lambda: True,
                                                                                  did_change=lambda: True))
    assert (images_checked(host, ["rancher/rancher:v2.10.1"]), host.asked) == ([], ["HostBefore", "NodeImages"])
