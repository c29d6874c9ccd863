"""Watches as the Python client and kubectl use them."""

from __future__ import annotations

import json
import threading
import time
import ssl
import urllib.request

import kubernetes


def _collect(core_v1, name: str, resource_version: str, count: int) -> list[tuple[str, str]]:
    """The first `count` events, leaving out modifications by the controllers (e.g. node IPAM)."""
    watch = kubernetes.watch.Watch()
    events = []
    for event in watch.stream(core_v1.list_node, field_selector=f"metadata.name={name}",
                              resource_version=resource_version, timeout_seconds=10):
        step = event["object"].metadata.labels.get("step", "")
        if event["type"] != "MODIFIED" or step:
            events.append((event["type"], step))
        if len(events) == count:
            watch.stop()
    return events


def test_watch_streams_modifications_after_a_resource_version(core_v1, make_node):
    name = make_node()
    version = core_v1.read_node(name).metadata.resource_version
    core_v1.patch_node(name, {"metadata": {"labels": {"step": "1"}}})
    core_v1.patch_node(name, {"metadata": {"labels": {"step": "2"}}})
    assert _collect(core_v1, name, version, 2) == [("MODIFIED", "1"), ("MODIFIED", "2")]


def test_watch_without_resource_version_starts_with_added(core_v1, make_node):
    name = make_node()
    assert _collect(core_v1, name, "", 1) == [("ADDED", "")]


def test_watch_delivers_changes_made_while_it_waits(core_v1, make_node):
    name = make_node()
    version = core_v1.read_node(name).metadata.resource_version
    timer = threading.Timer(0.5, core_v1.patch_node, (name, {"metadata": {"labels": {"step": "late"}}}))
    timer.start()
    assert _collect(core_v1, name, version, 1) == [("MODIFIED", "late")]


def test_watch_reports_deletion(core_v1, make_node):
    name = make_node()
    version = core_v1.read_node(name).metadata.resource_version
    core_v1.delete_node(name)
    assert _collect(core_v1, name, version, 1) == [("DELETED", "")]


def test_watch_sends_deleted_when_an_object_stops_matching_the_selector(core_v1, make_node):
    name = make_node()
    core_v1.patch_node(name, {"metadata": {"labels": {"watched": "yes"}}})
    version = core_v1.read_node(name).metadata.resource_version
    core_v1.patch_node(name, {"metadata": {"labels": {"watched": "no"}}})
    watch = kubernetes.watch.Watch()
    events = [event["type"] for event in watch.stream(core_v1.list_node, label_selector="watched=yes",
                                                       resource_version=version, timeout_seconds=2)]
    assert events == ["DELETED"]


def test_watch_times_out_after_timeout_seconds(core_v1, make_node):
    name = make_node()
    version = core_v1.read_node(name).metadata.resource_version
    started = time.monotonic()
    list(kubernetes.watch.Watch().stream(core_v1.list_node, field_selector=f"metadata.name={name}",
                                         resource_version=version, timeout_seconds=1))
    assert time.monotonic() - started < 5


def test_watch_lines_are_json_events(k3s_server, make_node):
    make_node()
    context = ssl.create_default_context(cafile=k3s_server.ca_file)
    request = urllib.request.Request(f"{k3s_server.url}/api/v1/nodes?watch=true&timeoutSeconds=1",
                                     headers={"Authorization": f"Bearer {k3s_server.node_token}"})
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        first = json.loads(answer.readline())
    assert (first["type"], first["object"]["kind"]) == ("ADDED", "Node")
