"""Label and field selector parsing and matching (pure logic, no server)."""

from __future__ import annotations

import pytest

from k3s_standin.apiserver.errors import ApiError
from k3s_standin.apiserver.selectors import parse_fields, parse_labels

LABELS = {"app": "web", "tier": "front"}


@pytest.mark.parametrize("selector, matches", [
    ("app=web", True), ("app==web", True), ("app!=web", False), ("app", True), ("!app", False),
    ("app in (web,db)", True), ("app notin (web)", False), ("missing!=x", True),
    ("app=web,tier=back", False), ("", True)])
def test_label_selector_matches_like_kubernetes(selector, matches):
    assert parse_labels(selector)(LABELS) is matches


def test_unparsable_label_selector_is_400():
    with pytest.raises(ApiError) as error:
        parse_labels("app in web")
    assert error.value.code == 400


def test_field_selector_compares_nested_fields():
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"nodeName": "n1"},
           "status": {"phase": "Running"}}
    match = parse_fields("spec.nodeName=n1,status.phase!=Succeeded", ("spec.nodeName", "status.phase"), "Pod")
    assert match(pod) is True


def test_field_selector_treats_a_missing_field_as_empty():
    match = parse_fields("spec.nodeName=", ("spec.nodeName",), "Pod")
    assert match({"metadata": {"name": "p"}, "spec": {}}) is True


def test_field_selector_rejects_unsupported_fields():
    with pytest.raises(ApiError) as error:
        parse_fields("spec.podCIDR=x", (), "Node")
    assert error.value.code == 400
