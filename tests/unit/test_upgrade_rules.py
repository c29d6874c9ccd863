"""The rolling upgrade's rules, decided before anything is touched: one minor at a time, no
downgrades, agents never newer than servers, servers first one at a time, and where a re-run resumes."""

from __future__ import annotations

import pytest

from tasks.upgrade_rules import (nodes_left, order_of, parse_k3s_version, refusals, skew_refusal, step_refusal,
                                 upgrade_order)

SERVERS, AGENTS = ["k3s-control"], ["k3s-worker-1", "k3s-worker-2"]
OLD, NEW = "v1.30.8+k3s1", "v1.31.4+k3s1"


def test_parse_keeps_kubernetes_version_and_k3s_build():
    version = parse_k3s_version("v1.31.4+k3s2")
    assert (version.kube, version.build, version.minor) == ((1, 31, 4, ()), 2, (1, 31))


def test_parse_refuses_what_is_no_version():
    with pytest.raises(ValueError):
        parse_k3s_version("latest")


@pytest.mark.parametrize(("left", "right", "order"), [
    ("v1.31.4+k3s1", "v1.31.4+k3s2", -1), ("v1.31.4+k3s1", "v1.30.8+k3s1", 1),
    ("v1.31.4+k3s1", "v1.31.4+k3s1", 0), ("v1.31.4-rc1+k3s1", "v1.31.4+k3s1", -1)])
def test_order_is_kubernetes_then_k3s_build(left, right, order):
    assert order_of(parse_k3s_version(left), parse_k3s_version(right)) == order


@pytest.mark.parametrize("target", [NEW, "v1.30.9+k3s1", "v1.30.8+k3s2", OLD])
def test_one_minor_or_a_patch_or_the_same_is_allowed(target):
    assert step_refusal("k3s-control", OLD, target) is None


def test_two_minors_at_once_are_refused_naming_host_and_field():
    assert step_refusal("k3s-control", OLD, "v1.32.0+k3s1") == (
        "k3s-control: k3s_version v1.32.0+k3s1 skips a minor version: it runs v1.30.8+k3s1; upgrade to 1.31 first")


@pytest.mark.parametrize("target", [OLD, "v1.31.3+k3s1", "v1.31.4-rc1+k3s1"])
def test_downgrades_are_refused(target):
    message = step_refusal("k3s-worker-1", NEW, target)
    assert message == (f"k3s-worker-1: k3s_version {target} is older than the {NEW} it runs; "
                       "k3s does not support downgrades")


def test_an_agent_newer_than_the_servers_is_refused():
    assert skew_refusal("k3s-worker-1", NEW, [OLD]) == (
        f"k3s-worker-1: k3s_version {NEW} is newer than the servers' {OLD}; "
        "an agent (kubelet) must not be newer than the servers")


@pytest.mark.parametrize("agent", [OLD, "v1.30.9+k3s1", "v1.29.12+k3s1"])
def test_agents_at_or_below_the_servers_minor_are_allowed(agent):
    assert skew_refusal("k3s-worker-1", agent, [OLD]) is None


def test_the_oldest_server_bounds_the_agents():
    assert skew_refusal("k3s-worker-1", NEW, [NEW, OLD, NEW]) is not None


def test_refusals_cover_every_host_and_skip_hosts_without_k3s():
    running = {"k3s-control": OLD, "k3s-worker-1": NEW, "k3s-worker-2": None}
    targets = {"k3s-control": OLD, "k3s-worker-1": OLD, "k3s-worker-2": NEW}
    assert [line.split(":")[0] for line in refusals(SERVERS, AGENTS, running, targets)] == [
        "k3s-worker-1", "k3s-worker-2"]


def test_a_sound_plan_has_no_refusals():
    running = dict.fromkeys(SERVERS + AGENTS, OLD)
    assert refusals(SERVERS, AGENTS, running, dict.fromkeys(SERVERS + AGENTS, NEW)) == []


def test_servers_one_at_a_time_then_agents():
    assert upgrade_order(["s1", "s2", "s3"], ["a1"]) == ["s1", "s2", "s3", "a1"]


def test_resume_leaves_out_nodes_already_at_the_target():
    order = upgrade_order(SERVERS, AGENTS)
    running = {"k3s-control": NEW, "k3s-worker-1": OLD}
    assert nodes_left(order, running, dict.fromkeys(order, NEW)) == ["k3s-worker-1", "k3s-worker-2"]


def test_resume_of_a_finished_upgrade_is_empty():
    order = upgrade_order(SERVERS, AGENTS)
    assert nodes_left(order, dict.fromkeys(order, NEW), dict.fromkeys(order, NEW)) == []
