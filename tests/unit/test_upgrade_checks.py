"""What the rolling upgrade decides before it touches anything: the versions the nodes run (read from
the first server's node list), the refusals in one line naming host and field, the charts' kubeVersion
against the target, and which nodes a (re-)run has left to upgrade."""

from __future__ import annotations

from pathlib import Path

import pytest

from facts.cluster_nodes import ClusterNode, ClusterNodes
from tasks.settings import InvalidField
from tasks.upgrade_checks import (UpgradeRefused, at_target, check_charts_fit, running_versions, target_problem,
                                  upgrade_plan)
from tests.unit.chart_archives import chart_archive

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SERVERS, AGENTS = ["k3s-control"], ["k3s-worker-1", "k3s-worker-2"]
OLD, NEW = "v1.30.8+k3s1", "v1.31.4+k3s1"
EVERY_NEW = dict.fromkeys(SERVERS + AGENTS, NEW)


def node(name: str, version: str) -> ClusterNode:
    return ClusterNode(name=name, internal_ip="", ready="True", reason="KubeletReady", since="", taints=[],
                       kubelet_version=version, cordoned_by=None)


def cluster(control: str, worker_1: str | None, worker_2: str | None = None) -> dict[str, ClusterNode]:
    versions = {"k3s-control": control, "k3s-worker-1": worker_1, "k3s-worker-2": worker_2}
    return {name: node(name, version) for name, version in versions.items() if version}


def test_the_kubelet_version_is_read_from_the_node_list():
    nodes = ClusterNodes().process((FIXTURES / "facts_cluster_nodes_lab.json").read_text().splitlines())
    assert running_versions(nodes) == EVERY_NEW


def test_every_node_on_the_old_version_is_left_servers_first():
    plan = upgrade_plan(SERVERS, AGENTS, cluster(OLD, OLD, OLD), EVERY_NEW)
    assert plan.left == ["k3s-control", "k3s-worker-1", "k3s-worker-2"]


def test_a_rerun_resumes_with_the_nodes_not_at_the_target():
    plan = upgrade_plan(SERVERS, AGENTS, cluster(NEW, NEW, OLD), EVERY_NEW)
    assert plan.left == ["k3s-worker-2"]


def test_a_rerun_finishes_a_node_at_the_target_that_a_stopped_run_left_cordoned():
    nodes = cluster(NEW, NEW, OLD)
    nodes["k3s-worker-1"]["cordoned_by"] = "upgrade"
    assert upgrade_plan(SERVERS, AGENTS, nodes, EVERY_NEW).left == ["k3s-worker-1", "k3s-worker-2"]


@pytest.mark.parametrize("owner", ["", "host-maintenance"])
def test_a_node_at_the_target_cordoned_by_someone_else_is_not_the_upgrades_to_finish(owner):
    nodes = cluster(NEW, NEW, OLD)
    nodes["k3s-worker-1"]["cordoned_by"] = owner
    assert upgrade_plan(SERVERS, AGENTS, nodes, EVERY_NEW).left == ["k3s-worker-2"]


def test_an_api_that_does_not_answer_is_refused_naming_the_first_server():
    with pytest.raises(UpgradeRefused, match=r"^k3s-control: its Kubernetes API does not answer"):
        upgrade_plan(SERVERS, AGENTS, None, EVERY_NEW)


def test_an_inventory_node_missing_from_the_cluster_is_refused():
    with pytest.raises(UpgradeRefused, match=r"^k3s-worker-2: not a node of the cluster; deploy it first"):
        upgrade_plan(SERVERS, AGENTS, cluster(OLD, OLD), EVERY_NEW)


def test_two_minors_at_once_are_refused_in_one_line_naming_host_and_field():
    targets = dict.fromkeys(SERVERS + AGENTS, "v1.32.0+k3s1")
    with pytest.raises(UpgradeRefused) as refused:
        upgrade_plan(SERVERS, AGENTS, cluster(OLD, OLD, OLD), targets)
    assert str(refused.value).startswith("k3s-control: k3s_version v1.32.0+k3s1 skips a minor version")
    assert "\n" not in str(refused.value)


def test_an_agent_target_newer_than_the_servers_is_refused():
    targets = {"k3s-control": OLD, "k3s-worker-1": NEW, "k3s-worker-2": OLD}
    with pytest.raises(UpgradeRefused, match=r"^k3s-worker-1: k3s_version v1.31.4\+k3s1 is newer than the servers'"):
        upgrade_plan(SERVERS, AGENTS, cluster(OLD, OLD, OLD), targets)


def test_a_node_is_at_its_target_only_with_the_targets_binary_too():
    plan = upgrade_plan(SERVERS, AGENTS, cluster(NEW, NEW, NEW), EVERY_NEW)
    assert (at_target("k3s-worker-1", plan, "a" * 64, "a" * 64), at_target("k3s-worker-1", plan, "b" * 64, "a" * 64),
            at_target("k3s-worker-1", plan, None, "a" * 64)) == (True, False, False)


def test_a_node_whose_kubelet_is_old_is_not_at_its_target_whatever_its_binary():
    plan = upgrade_plan(SERVERS, AGENTS, cluster(NEW, OLD, NEW), EVERY_NEW)
    assert at_target("k3s-worker-1", plan, "a" * 64, "a" * 64) is False


@pytest.mark.parametrize(("target", "problem"), [
    (None, "missing: the upgrade's target version"), ("latest", "'latest' is not a k3s version")])
def test_a_target_that_is_no_version_is_refused(target, problem):
    assert target_problem(target).startswith(problem)


def test_a_release_version_is_a_target():
    assert target_problem(NEW) == ""


def test_a_rancher_chart_that_excludes_the_target_is_refused_naming_its_field(tmp_path):
    chart = chart_archive(tmp_path, "rancher", "2.9.3", kube_version="< 1.31.0-0")
    data = {"rancher": {"hostname": "rancher.lab.test", "chart_file": str(chart)}}
    check_charts_fit(data, OLD)
    with pytest.raises(InvalidField, match=r"^field rancher.chart_file: chart rancher-2.9.3 requires kubeVersion "
                                           r"< 1.31.0-0, which excludes k3s_version v1.31.4\+k3s1$"):
        check_charts_fit(data, NEW)


def test_a_cert_manager_chart_that_excludes_the_target_is_refused(tmp_path):
    rancher = chart_archive(tmp_path, "rancher", "2.10.1", kube_version="< 1.32.0-0")
    cert_manager = chart_archive(tmp_path, "cert-manager", "v1.16.2", kube_version="< 1.31.0-0")
    data = {"rancher": {"hostname": "rancher.lab.test", "chart_file": str(rancher)},
            "cert_manager": {"chart_file": str(cert_manager)}}
    with pytest.raises(InvalidField, match=r"^field cert_manager.chart_file: "):
        check_charts_fit(data, NEW)
