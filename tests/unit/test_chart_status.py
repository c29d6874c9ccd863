"""A chart's install as k3s's helm-controller runs it, and the one-line diagnosis when it is not up."""

from __future__ import annotations

import pytest

from facts.chart_status import chart_command, chart_reads, chart_status, last_error, section_texts
from tests.unit.kube_objects import (
    HEALTHY_NODES,
    SCHEDULER_NO_PORTS,
    SCHEDULER_TAINTED,
    UNREACHABLE,
    WRITTEN_AFTER,
    chart_sections,
    deployment,
    helm_job,
    helm_pod,
    node_line,
    pod,
    reads_of,
    svclb_pod,
    unscheduled,
)

RUNNING = {"jobName": "helm-install-rancher"}
REPO_UNREACHABLE = (
    'Error: looks like "https://releases.rancher.com/server-charts/stable" is not a valid chart repository or cannot '
    'be reached: Get "https://releases.rancher.com/server-charts/stable/index.yaml": dial tcp: lookup '
    "releases.rancher.com on 10.43.0.10:53: server misbehaving")
# klipper-helm's entry runs under set -x, so its commands come before helm's error
REPO_LOG = ("+ helm_v3 repo add rancher https://releases.rancher.com/server-charts/stable\n" + REPO_UNREACHABLE + "\n")
NOT_COMPLETED = ("helm-install-rancher has not completed since the manifest was written "
                 "(HelmChart job helm-install-rancher)")
CRASH_LOOP = {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=helm "
              "pod=helm-install-rancher-x7k2p_kube-system(0c1d)"}


def problem(**sections) -> str | None:
    return chart_status(chart_sections("rancher", **sections), "rancher", ["rancher"])["problem"]


def test_an_available_deployment_is_no_problem():
    assert problem(workload=[deployment("rancher"), pod("rancher-7d9f-abcde")], helmchart=RUNNING,
                   job=[helm_job("rancher", complete=True), helm_pod("rancher", phase="Succeeded")]) is None


INSTALLED = {"helmchart": RUNNING, "job": [helm_job("rancher", complete=True)]}
SERVING = [deployment("rancher"), pod("rancher-7d9f-abcde")]


def test_a_job_completed_before_the_manifest_was_written_is_the_old_release():
    # k3s applied the new manifest, the helm-controller has not re-run the Job: the old pods still answer
    assert problem(workload=SERVING, manifest=WRITTEN_AFTER, **INSTALLED) == NOT_COMPLETED


def test_a_job_completed_after_the_manifest_was_written_is_installed():
    rerun = helm_job("rancher", complete=True, completed="2026-12-01T12:05:30Z")
    assert problem(workload=SERVING, manifest=WRITTEN_AFTER, helmchart=RUNNING, job=[rerun]) is None


def test_a_second_of_slack_absorbs_the_timestamps_rounding():
    # completionTime is whole seconds; the Job may finish within the second the file was written
    same_second = helm_job("rancher", complete=True, completed="2026-12-01T12:04:59Z")
    assert problem(workload=SERVING, manifest=WRITTEN_AFTER, helmchart=RUNNING, job=[same_second]) is None


def test_without_the_manifests_mtime_a_complete_job_counts():
    assert problem(workload=SERVING, manifest="", **INSTALLED) is None


def test_a_complete_job_without_a_completion_time_is_not_taken_for_the_new_one():
    undated = helm_job("rancher", complete=True, completed="")
    assert problem(workload=SERVING, helmchart=RUNNING, job=[undated]) == NOT_COMPLETED


def test_without_a_job_the_cause_says_it_has_not_started():
    assert problem(workload=SERVING, helmchart={}) == (
        "helm-install-rancher has not completed since the manifest was written (HelmChart job not started)")


def test_the_install_job_comes_before_the_deployments():
    assert problem(workload=[deployment("rancher", available=False)], helmchart=RUNNING,
                   job=[helm_job("rancher")]) == NOT_COMPLETED


@pytest.mark.parametrize("rolling", [
    deployment("rancher", generation=2, observed=1),        # the controller has not seen the new spec yet
    deployment("rancher", replicas=3, updated=2),           # old ReplicaSet's pods still serve
    deployment("rancher", unavailable=1),                   # the new pod surged, not yet available
])
def test_an_available_deployment_not_rolled_out_is_a_problem(rolling):
    assert str(problem(workload=[rolling], **INSTALLED)).startswith("Deployment not Available or not rolled out: rancher ")


def test_a_deployment_rolled_out_over_several_generations_is_no_problem():
    assert problem(workload=[deployment("rancher", replicas=2, generation=3)], **INSTALLED) is None


def test_the_command_stats_the_manifest_first():
    command = chart_command("rancher", "cattle-system", "/var/lib/rancher/k3s/server/manifests/rancher.yaml")
    assert reads_of(command)[0] == {"section": "manifest", "read": "mtime",
                                    "path": "/var/lib/rancher/k3s/server/manifests/rancher.yaml"}


def test_the_helm_log_is_the_newest_helm_install_pods_last_twenty_lines():
    log = next(read for read in chart_reads("rancher", "cattle-system", "x") if read["section"] == "helmlog")
    assert (log["paths"], log["selector"], log["tail"]) == (
        ["/api/v1/namespaces/kube-system/pods"], "helmcharts.helm.cattle.io/chart=rancher", 20)


def test_a_crash_looping_helm_pod_gives_its_last_log_line():
    crashing = helm_pod("rancher", waiting=CRASH_LOOP, restarts=4)
    assert problem(helmchart=RUNNING, job=[helm_job("rancher"), crashing], helmlog=REPO_LOG) == \
        f"helm-install-rancher (restarted 4x): {REPO_UNREACHABLE}"


def test_a_missing_kind_is_named_not_just_helms_hint():
    log = ("+ helm_v3 install --namespace cattle-system rancher https://10.43.0.1:443/static/charts/rancher-2.10.1.tgz\n"
           "Error: INSTALLATION FAILED: unable to build kubernetes objects from release manifest: resource mapping not "
           'found for name: "rancher" namespace: "cattle-system" from "": no matches for kind "Issuer" in version '
           '"cert-manager.io/v1"\nensure CRDs are installed first\n')
    crashing = helm_pod("rancher", waiting=CRASH_LOOP, restarts=2)
    assert problem(helmchart=RUNNING, job=[helm_job("rancher"), crashing], helmlog=log) == (
        "helm-install-rancher (restarted 2x): Error: INSTALLATION FAILED: unable to build kubernetes objects from "
        'release manifest: resource mapping not found for name: "rancher" namespace: "cattle-system" from "": no '
        'matches for kind "Issuer" in version "cert-manager.io/v1" ensure CRDs are installed first')


def test_the_newest_helm_pod_is_the_one_judged():
    older = helm_pod("rancher", suffix="aaaaa", phase="Failed", created="2026-12-01T12:00:00Z")
    newer = helm_pod("rancher", suffix="bbbbb", waiting=CRASH_LOOP, restarts=1, created="2026-12-01T12:05:00Z")
    assert problem(helmchart=RUNNING, job=[helm_job("rancher"), newer, older], helmlog=REPO_LOG) == \
        f"helm-install-rancher (restarted 1x): {REPO_UNREACHABLE}"


def test_an_image_pull_back_off_helm_pod_names_the_node_and_image():
    waiting = {"reason": "ImagePullBackOff",
               "message": 'Back-off pulling image "rancher/klipper-helm:v0.9.3-build20241008"'}
    pulling = helm_pod("rancher", phase="Pending", node="k3s-worker-2", waiting=waiting)
    log = ('Error from server (BadRequest): container "helm" in pod "helm-install-rancher-x7k2p" is waiting to start: '
           "trying and failing to pull image")
    assert problem(helmchart=RUNNING, job=[helm_job("rancher"), pulling], helmlog=log) == (
        "helm-install-rancher pod helm-install-rancher-x7k2p ImagePullBackOff on k3s-worker-2: "
        'Back-off pulling image "rancher/klipper-helm:v0.9.3-build20241008"')


def test_a_helm_pod_that_is_still_starting_is_no_helm_problem():
    starting = helm_pod("rancher", phase="Pending", waiting={"reason": "ContainerCreating"})
    log = 'Error from server (BadRequest): container "helm" in pod "helm-install-rancher-x7k2p" is waiting to start: ' \
          "ContainerCreating"
    assert problem(helmchart=RUNNING, job=[helm_job("rancher"), starting], helmlog=log) == NOT_COMPLETED


def test_a_first_run_in_progress_is_no_helm_problem():
    running = helm_pod("rancher")
    assert problem(helmchart=RUNNING, job=[helm_job("rancher"), running], helmlog="+ helm_v3 install rancher\n") == \
        NOT_COMPLETED


def test_a_failed_job_gives_its_message():
    failed = helm_job("rancher", failed="Job has reached the specified backoff limit")
    assert problem(helmchart=RUNNING, job=[failed], helmlog=REPO_LOG) == \
        "helm-install-rancher failed: Job has reached the specified backoff limit"


def test_a_missing_helmchart_says_the_manifest_is_not_applied():
    assert problem() == "HelmChart kube-system/rancher not found (manifest not applied yet)"


def test_an_api_failing_gives_its_line():
    refused = "Kubernetes API https://127.0.0.1:6443: [Errno 111] Connection refused"
    assert problem(workload=refused, helmchart=refused, job=refused, svclb=refused, nodes=refused) == refused


def test_a_pending_svclb_pod_without_free_ports_is_in_the_context():
    waiting = [deployment("rancher", available=False), pod("rancher-7d9f-abcde", phase="Pending",
                                                           waiting={"reason": "ContainerCreating"})]
    blocked = unscheduled("svclb-rancher-lb-1a2b3c4d-x7k2p", SCHEDULER_NO_PORTS,
                          {"svccontroller.k3s.cattle.io/svcname": "rancher-lb"})
    traefik = svclb_pod("traefik")
    assert problem(workload=waiting, helmchart=RUNNING, job=[helm_job("rancher", complete=True)],
                   svclb=[traefik, blocked]) == (
        "pod rancher-7d9f-abcde ContainerCreating on k3s-worker-1; "
        f"svclb-rancher-lb-1a2b3c4d-x7k2p Pending: {SCHEDULER_NO_PORTS}")


def test_a_pending_pod_gives_the_schedulers_message_and_the_tainted_node():
    pending = unscheduled("rancher-7d9f-abcde", SCHEDULER_TAINTED)
    nodes = [node_line("k3s-control"), node_line("k3s-worker-1", ready=False, taints=UNREACHABLE)]
    assert problem(workload=[deployment("rancher", available=False), pending], helmchart=RUNNING,
                   job=[helm_job("rancher", complete=True)], nodes=nodes) == (
        f"pod rancher-7d9f-abcde Pending: {SCHEDULER_TAINTED}; nodes: k3s-worker-1 NotReady tainted "
        "node.kubernetes.io/unreachable:NoSchedule, node.kubernetes.io/unreachable:NoExecute")


def test_an_unavailable_deployment_with_healthy_pods_says_how_many_are_ready():
    assert problem(workload=[deployment("rancher", available=False, replicas=3)], helmchart=RUNNING,
                   job=[helm_job("rancher", complete=True)]) == \
        "Deployment not Available or not rolled out: rancher 0/3 ready"


def test_many_tainted_nodes_stay_one_short_line():
    nodes = [node_line(f"k3s-worker-{index}", ready=False, taints=UNREACHABLE[:1]) for index in range(1000)]
    assert problem(nodes=nodes).endswith(
        "k3s-worker-2 NotReady tainted node.kubernetes.io/unreachable:NoSchedule, and 997 more")


def test_a_node_line_without_taints_is_a_ready_node():
    assert chart_status(chart_sections("rancher", nodes="k3s-worker-1\tTrue"), "rancher", ["rancher"])["nodes"] == []


def test_every_node_healthy_adds_no_context():
    assert ";" not in problem(nodes=HEALTHY_NODES)


def test_section_texts_keeps_each_body():
    assert section_texts(["### a", "1", "2", "### b", "x"]) == {"a": "1\n2", "b": "x"}


def test_last_error_is_the_last_line_without_an_error_line():
    assert (last_error("+ helm_v3 install\ninstalled\n"), last_error("")) == ("installed", "no output")
