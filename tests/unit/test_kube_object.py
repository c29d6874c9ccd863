"""KubeObjectExists: one read at the object's API path, its answer told from absence and API errors."""

from __future__ import annotations

from facts.kube_object import KubeObjectExists

PATH = "/api/v1/namespaces/cattle-system/services/rancher-lb"


def test_the_command_is_one_python3_run_reading_the_path() -> None:
    command = KubeObjectExists().command(path=PATH)
    assert (command.startswith("python3 -c "), command.count(PATH)) == (True, 1)


def test_an_answered_object_exists() -> None:
    assert KubeObjectExists().process(["### object", "rancher-lb"]) is True


def test_an_empty_section_is_absent() -> None:
    assert KubeObjectExists().process(["### object", ""]) is False


def test_an_api_that_did_not_answer_is_not_taken_for_an_object() -> None:
    line = "Kubernetes API https://127.0.0.1:6443: [Errno 111] Connection refused"
    assert KubeObjectExists().process(["### object", line]) is False
