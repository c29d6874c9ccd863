"""facts/kube_reads.py against a real stand-in apiserver, run as the facts send it (``python3 -c``
with its request): a chart's sections parse as the facts parse them, a missing kind is named as
kubectl names it, a dry run admits without storing, a TLS Secret gives its certificate but never its
key, and an API that does not answer is one line in every section, at once."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_api_crds import crd_body

import conftest
from facts import chart_status, kube_reads

Obj = dict[str, Any]
TLS_CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZm9v\n-----END CERTIFICATE-----\n"
TLS_KEY = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleQ==\n-----END PRIVATE KEY-----\n"


def api_of(server: conftest.Server) -> dict[str, str]:
    """``facts.names.KUBE_API`` for this server: its admin kubeconfig and its TLS directory."""
    return {"kubeconfig": str(server.kubeconfig), "tls_dir": str(server.data_dir / "server" / "tls")}


def run_reads(api: dict[str, str], reads: list[Obj]) -> tuple[dict[str, str], float]:
    """The sections the program prints, run as the facts' command line runs it, and its seconds."""
    started = time.monotonic()
    done = subprocess.run(["sh", "-c", kube_reads.command(api, reads)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert (done.returncode, done.stderr) == (0, "")
    return chart_status.section_texts(done.stdout.splitlines()), time.monotonic() - started


def test_a_charts_sections_parse_as_the_fact_parses_them(k3s_server: conftest.Server) -> None:
    conftest.wait_for("the traefik HelmChart's job", lambda: "jobName" in run_reads(
        api_of(k3s_server), chart_status.chart_reads("traefik", "kube-system", "/nonexistent"))[0]["helmchart"])
    sections, _ = run_reads(api_of(k3s_server), chart_status.chart_reads(
        "traefik", "kube-system", str(k3s_server.data_dir / "server" / "manifests" / "traefik.yaml")))
    status = chart_status.chart_status(sections, "traefik", ["traefik"])
    kinds = {item["kind"] for item in json.loads(sections["job"])["items"]}
    assert (sections["manifest"].isdigit(), status["helmchart"], status["job"], status["error"], kinds >= {"Job"},
            sections["nodes"].split("\t")[:2]) == (True, True, "helm-install-traefik", None, True,
                                                   ["standin-conformance", "True"])


def test_a_kind_not_served_is_kubectls_no_matches_and_a_served_one_is_admitted_not_stored(
        k3s_server: conftest.Server, kubectl, tmp_path: Path) -> None:
    group = f"t{uuid.uuid4().hex[:8]}.example.com"
    issuer = {"apiVersion": f"{group}/v1", "kind": "Issuer", "metadata": {"name": "probe", "namespace": "default"},
              "spec": {"selfSigned": {}}}
    dry_run = [{"section": "dryrun", "read": "dry_run", "body": issuer}]
    missing = run_reads(api_of(k3s_server), dry_run)[0]["dryrun"]
    (tmp_path / "crd.yaml").write_text(yaml.safe_dump(crd_body(group, "Issuer")))
    assert kubectl("apply", "-f", str(tmp_path / "crd.yaml")).returncode == 0
    assert kubectl("wait", "--for=condition=Established", f"crd/issuers.{group}", "--timeout=10s").returncode == 0
    admitted = run_reads(api_of(k3s_server), dry_run)[0]["dryrun"]
    stored = kubectl("get", f"issuers.{group}", "-n", "default", "-o", "name").stdout
    assert (missing, admitted, stored) == (
        f'error: no matches for kind "Issuer" in version "{group}/v1": ensure CRDs are installed first',
        f"issuer.{group}/probe created (server dry run)", "")


def test_a_tls_secret_gives_its_certificate_never_its_key(k3s_server: conftest.Server, kubectl) -> None:
    namespace = f"tls-{uuid.uuid4().hex[:6]}"
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": "tls-rancher-ingress", "namespace": namespace,
                           "annotations": {"cert-manager.io/certificate-name": "tls-rancher-ingress"}},
              "data": {"tls.crt": base64.b64encode(TLS_CERT.encode()).decode(),
                       "tls.key": base64.b64encode(TLS_KEY.encode()).decode()}}
    assert kubectl("create", "namespace", namespace).returncode == 0
    created = subprocess.run([conftest.KUBECTL, "--kubeconfig", str(k3s_server.kubeconfig), "create", "-f", "-"],
                             input=json.dumps(secret), capture_output=True, text=True, check=False)
    assert created.returncode == 0, created.stderr
    secrets = f"/api/v1/namespaces/{namespace}/secrets"
    done = subprocess.run(["sh", "-c", kube_reads.command(api_of(k3s_server), [
        {"section": "ingress", "read": "certificate", "path": f"{secrets}/tls-rancher-ingress"},
        {"section": "ca", "read": "exists", "path": f"{secrets}/tls-ca"}])], capture_output=True, text=True, check=False)
    cert, annotations = done.stdout.splitlines()[1:3]
    assert (base64.b64decode(cert).decode(), json.loads(annotations), done.stdout.splitlines()[3:],
            secret["data"]["tls.key"] in done.stdout) == (
        TLS_CERT, secret["metadata"]["annotations"], ["### ca", ""], False)


def test_a_missing_traefik_service_is_the_facts_own_line(k3s_server: conftest.Server) -> None:
    read = {"section": "ping", "read": "ping", "service": "/api/v1/namespaces/kube-system/services/absent-svc",
            "port": 443, "scheme": "https", "hostname": "rancher.example.net", "absent": "no Service absent-svc"}
    assert run_reads(api_of(k3s_server), [read])[0]["ping"] == "no Service absent-svc"


@pytest.fixture
def stopped_api(k3s_server: conftest.Server, tmp_path: Path) -> dict[str, str]:
    """The server's credentials with a kubeconfig whose ``server:`` is a loopback port nothing listens
    on: what a client sees of a stopped k3s."""
    kubeconfig = tmp_path / "k3s.yaml"
    kubeconfig.write_text(k3s_server.kubeconfig.read_text().replace(
        k3s_server.url, f"https://127.0.0.1:{conftest.free_port()}"))
    return {**api_of(k3s_server), "kubeconfig": str(kubeconfig)}


def test_an_api_that_does_not_answer_is_one_line_in_every_section_at_once(stopped_api: dict[str, str]) -> None:
    reads = [*chart_status.chart_reads("rancher", "cattle-system", "/nonexistent"),
             {"section": "api", "read": "readyz"}]
    sections, seconds = run_reads(stopped_api, reads)
    status = chart_status.chart_status(sections, "rancher", ["rancher"])
    lines = {text for name, text in sections.items() if name != "manifest"}
    assert (len(lines), next(iter(lines)).startswith("Kubernetes API https://127.0.0.1:"),
            "Connection refused" in status["problem"], seconds < 5) == (1, True, True, True), sections

