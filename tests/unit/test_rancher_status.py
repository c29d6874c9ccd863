"""Rancher's status: the chart's diagnosis (facts.chart_status) then /ping through Traefik.

The fixtures tests/unit/fixtures/rancher_status_*.txt are hand-made (issue 15), in the sections the
fact's command prints; the ones recorded before came from the old stand-in and the old sections.
"""

from __future__ import annotations

import re
from pathlib import Path

from facts.rancher import RancherStatus, ping_read
from tasks.rancher import MANIFEST_PATH
from tests.unit.kube_objects import WRITTEN_AFTER, chart_output, deployment, helm_job, pod, reads_of

FIXTURES = Path(__file__).parent / "fixtures"
HOSTNAME = "rancher.example.net"
INSTALLED = {"workload": [deployment("rancher"), pod("rancher-7d9f-abcde")],
             "helmchart": {"jobName": "helm-install-rancher"}, "job": [helm_job("rancher", complete=True)]}


def status(ping: str, **sections) -> dict:
    return RancherStatus().process(chart_output("rancher", extra={"ping": ping}, **{**INSTALLED, **sections}))


def test_installed_and_answering_pong_is_ready():
    result = status("pong")
    assert (result["ready"], result["problem"]) == (True, None)


def test_installed_but_ping_answering_otherwise_names_the_path():
    result = status("404 page not found")
    assert (result["ready"], result["problem"]) == (False, "/ping through Traefik (kube-system/traefik) to the Ingress "
                                                           "of cattle-system/rancher answered '404 page not found'")


def test_no_answer_at_all_is_said():
    assert status("")["problem"].endswith("answered 'nothing'")


def test_a_disabled_traefik_is_named():
    message = "no Service kube-system/traefik (is traefik in k3s_config disable?)"
    assert status(message)["problem"].endswith(f"answered {message!r}")


def test_the_charts_problem_comes_before_the_ping():
    result = status("pong", workload=[deployment("rancher", available=False)])
    assert (result["ready"], result["problem"]) == (False, "Deployment not Available or not rolled out: "
                                                           "rancher 0/1 ready")


def test_ping_goes_to_traefiks_https_port_with_sni_in_tls_modes_ending_at_traefik():
    read = ping_read(HOSTNAME, "rancher")
    assert (read["service"], read["port"], read["scheme"], read["hostname"], read["absent"]) == (
        "/api/v1/namespaces/kube-system/services/traefik", 443, "https", HOSTNAME,
        "no Service kube-system/traefik (is traefik in k3s_config disable?)")


def test_ping_goes_to_traefiks_http_port_when_haproxy_ends_tls():
    assert (ping_read(HOSTNAME, "external")["port"], ping_read(HOSTNAME, "external")["scheme"]) == (80, "http")


def test_the_command_prints_every_section_once():
    reads = reads_of(RancherStatus().command(HOSTNAME, "secret"))
    assert [read["section"] for read in reads] == ["manifest", "workload", "helmchart", "job", "helmlog", "svclb",
                                                   "nodes", "ping"]


def test_the_command_stats_the_manifest_the_task_writes():
    assert reads_of(RancherStatus().command(HOSTNAME, "secret"))[0] == {
        "section": "manifest", "read": "mtime", "path": MANIFEST_PATH}


def test_an_old_release_answering_pong_is_not_ready_until_the_job_reran():
    result = status("pong", manifest=WRITTEN_AFTER)
    assert (result["ready"], result["problem"]) == (False, "helm-install-rancher has not completed since the manifest "
                                                           "was written (HelmChart job helm-install-rancher)")


def fixture(name: str) -> dict:
    """A hand-made output of the fact's command (see the module docstring)."""
    return RancherStatus().process((FIXTURES / f"rancher_status_{name}.txt").read_text().splitlines())


def test_fixture_pending_pod_names_the_untolerated_taint():
    assert re.fullmatch(
        r"pod rancher-\w+-\w+ Pending: 0/1 nodes are available: 1 node\(s\) had untolerated taint "
        r"\{example.com/maintenance: true\}\. .*; nodes: k3s-control Ready tainted example.com/maintenance:NoSchedule",
        fixture("pending")["problem"]) is not None


def test_fixture_crash_looping_helm_pod_gives_helms_error():
    result = fixture("helm_crashloop")
    assert (result["ready"], result["problem"]) == (False, (
        'helm-install-rancher (restarted 5x): Error: looks like "https://releases.rancher.com/server-charts/stable" is '
        'not a valid chart repository or cannot be reached: Get "https://releases.rancher.com/server-charts/stable/'
        'index.yaml": dial tcp: lookup releases.rancher.com on 10.43.0.10:53: server misbehaving'))
