"""facts/kube_reads.py without a server: what each read prints from the API's answers, the one-line
errors, and that nothing secret is printed (the stand-in conformance test talks to a real server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facts import kube_reads
from facts.kube_reads import Api, ApiError

SECRET_ENV = {"name": "CATTLE_BOOTSTRAP_PASSWORD", "value": "hunter2"}
ISSUER = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
          "metadata": {"name": "probe", "namespace": "cert-manager"}, "spec": {"selfSigned": {}}}


class Answers(Api):
    """An Api whose answers are ``{(method, path): (status, body)}``; records what was asked."""

    def __init__(self, answers: dict[tuple[str, str], tuple[int, object]]) -> None:
        super().__init__({"kubeconfig": "/nonexistent", "tls_dir": "/nonexistent"})
        self.canned, self.asked = answers, []

    def call(self, method: str, path: str, body: dict | None = None) -> bytes:
        self.asked.append((method, path))
        status, answer = self.canned.get((method, path), (404, {"kind": "Status", "reason": "NotFound",
                                                                "message": "not found"}))
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        if status >= 300:
            raise kube_reads.refused(method, path, status, "Not Found" if status == 404 else "Refused", data)
        return data


def pod(name: str, created: str, **spec: object) -> dict:
    return {"metadata": {"name": name, "namespace": "kube-system", "creationTimestamp": created,
                         "labels": {"a": "b"}, "managedFields": [{}]},
            "spec": {"containers": [{"env": [SECRET_ENV]}], **spec}, "status": {"phase": "Running"}}


HELM_PODS = "/api/v1/namespaces/kube-system/pods?labelSelector=helmcharts.helm.cattle.io%2Fchart%3Drancher"
HELM_READ = {"paths": ["/api/v1/namespaces/kube-system/pods"], "selector": "helmcharts.helm.cattle.io/chart=rancher"}


def test_a_list_gives_each_object_its_kind_and_only_what_the_parsers_read():
    api = Answers({("GET", HELM_PODS): (200, {"kind": "PodList", "items": [pod("p", "t1", nodeName="n1")]})})
    printed = kube_reads.read_list(api, HELM_READ)
    assert (json.loads(printed)["items"], "hunter2" in printed) == (
        [{"kind": "Pod", "metadata": {"name": "p", "namespace": "kube-system", "creationTimestamp": "t1"},
          "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}], False)


def test_the_same_get_is_asked_once_per_run():
    api = Answers({("GET", HELM_PODS): (200, {"kind": "PodList", "items": []})})
    kube_reads.read_list(api, HELM_READ)
    kube_reads.read_log(api, {**HELM_READ, "tail": 20})
    assert api.asked == [("GET", HELM_PODS)]


def test_the_log_is_the_newest_pods_tail():
    pods = {"kind": "PodList", "items": [pod("new", "2026-12-01T12:05:00Z"), pod("old", "2026-12-01T12:00:00Z")]}
    api = Answers({("GET", HELM_PODS): (200, pods),
                   ("GET", "/api/v1/namespaces/kube-system/pods/new/log?tailLines=20"): (200, b"Error: boom\n")})
    assert kube_reads.read_log(api, {**HELM_READ, "tail": 20}) == "Error: boom\n"


def test_a_refused_log_is_said_as_kubectl_says_it():
    waiting = 'container "helm" in pod "new" is waiting to start: ContainerCreating'
    api = Answers({("GET", HELM_PODS): (200, {"kind": "PodList", "items": [pod("new", "t")]}),
                   ("GET", "/api/v1/namespaces/kube-system/pods/new/log?tailLines=20"):
                       (400, {"kind": "Status", "reason": "BadRequest", "message": waiting})})
    assert kube_reads.read_log(api, {**HELM_READ, "tail": 20}) == f"Error from server (BadRequest): {waiting}"


def test_a_helmchart_is_its_name_and_status_never_its_values():
    chart = {"metadata": {"name": "rancher"}, "spec": {"valuesContent": "bootstrapPassword: hunter2"},
             "status": {"jobName": "helm-install-rancher"}}
    api = Answers({("GET", "/x/rancher"): (200, chart)})
    assert kube_reads.read_status(api, {"path": "/x/rancher"}) == 'rancher\n{"jobName":"helm-install-rancher"}'


def test_a_missing_object_is_an_empty_section():
    api = Answers({})
    assert (kube_reads.read_status(api, {"path": "/x/rancher"}), kube_reads.read_exists(api, {"path": "/x/tls-ca"}),
            kube_reads.read_certificate(api, {"path": "/x/tls-rancher-ingress"})) == ("", "", "")


def test_a_tls_secret_gives_its_certificate_and_annotations_never_its_key():
    secret = {"metadata": {"name": "tls-rancher-ingress", "annotations": {"a": "b"}},
              "data": {"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}}
    api = Answers({("GET", "/s"): (200, secret)})
    assert kube_reads.read_certificate(api, {"path": "/s"}) == 'Q0VSVA==\n{"a":"b"}'


def test_nodes_are_name_ready_and_taints():
    nodes = {"items": [
        {"metadata": {"name": "a"}, "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        {"metadata": {"name": "b"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
         "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}]}
    api = Answers({("GET", "/api/v1/nodes"): (200, nodes)})
    assert kube_reads.read_nodes(api, {}) == 'a\tTrue\t\nb\tUnknown\t[{"key": "k", "effect": "NoSchedule"}]'


def test_a_kind_the_api_does_not_serve_is_named_as_kubectls_rest_mapper_names_it():
    api = Answers({("GET", "/apis/cert-manager.io/v1"): (200, {"resources": [{"name": "certificates",
                                                                             "kind": "Certificate"}]})})
    assert kube_reads.read_dry_run(api, {"body": ISSUER}) == (
        'error: no matches for kind "Issuer" in version "cert-manager.io/v1": ensure CRDs are installed first')


def test_a_group_the_api_does_not_serve_is_the_same_missing_kind():
    assert 'no matches for kind "Issuer" in version "cert-manager.io/v1"' in kube_reads.read_dry_run(
        Answers({}), {"body": ISSUER})


ISSUERS = {("GET", "/apis/cert-manager.io/v1"): (200, {"resources": [{"name": "issuers", "kind": "Issuer"},
                                                                     {"name": "issuers/status", "kind": "Issuer"}]})}


def test_an_admitted_dry_run_is_said_as_kubectl_says_it():
    api = Answers({**ISSUERS, ("POST", "/apis/cert-manager.io/v1/namespaces/cert-manager/issuers?dryRun=All"): (201, {})})
    assert kube_reads.read_dry_run(api, {"body": ISSUER}) == "issuer.cert-manager.io/probe created (server dry run)"


def test_a_webhook_refusing_is_the_apis_reason_and_message():
    message = 'Internal error occurred: failed calling webhook "webhook.cert-manager.io": connection refused'
    api = Answers({**ISSUERS, ("POST", "/apis/cert-manager.io/v1/namespaces/cert-manager/issuers?dryRun=All"):
                   (500, {"kind": "Status", "reason": "InternalError", "message": message})})
    assert kube_reads.read_dry_run(api, {"body": ISSUER}) == f"Error from server (InternalError): {message}"


def test_a_refused_request_is_one_line_with_method_path_and_the_apis_message():
    error = kube_reads.refused("GET", "/api/v1/nodes?limit=5", 403, "Forbidden",
                               b'{"kind":"Status","reason":"Forbidden","message":"nodes is forbidden: User \\"x\\"\\nmore"}')
    assert (str(error), error.status, error.reason) == (
        'Kubernetes API GET /api/v1/nodes: 403 Forbidden: nodes is forbidden: User "x"', 403, "Forbidden")


def test_a_refusal_without_a_status_body_keeps_the_text():
    assert str(kube_reads.refused("GET", "/readyz", 401, "Unauthorized", b"Unauthorized\n")) == \
        "Kubernetes API GET /readyz: 401 Unauthorized: Unauthorized"


def test_the_server_is_the_kubeconfigs_server_line(tmp_path: Path):
    (tmp_path / "k3s.yaml").write_text("clusters:\n- cluster:\n    certificate-authority-data: QUJD\n"
                                       "    server: https://127.0.0.1:6444\n  name: default\n")
    assert kube_reads.server_url(str(tmp_path / "k3s.yaml")) == "https://127.0.0.1:6444"


def test_unreadable_credentials_are_every_api_sections_line_and_files_still_read(tmp_path: Path):
    (tmp_path / "manifest.yaml").write_text("x")
    printed = kube_reads.run({"api": {"kubeconfig": str(tmp_path / "absent.yaml"), "tls_dir": str(tmp_path)},
                              "reads": [{"section": "nodes", "read": "nodes"}, {"section": "api", "read": "readyz"},
                                        {"section": "manifest", "read": "mtime", "path": str(tmp_path / "manifest.yaml")}]})
    lines = printed.splitlines()
    assert (lines[0], lines[1].startswith("Kubernetes API credentials: [Errno 2]"), lines[3] == lines[1],
            lines[4], lines[5].isdigit()) == ("### nodes", True, True, "### manifest", True)


def test_after_the_server_failed_to_answer_nothing_more_is_tried():
    api = Api({"kubeconfig": "/nonexistent", "tls_dir": "/nonexistent"})
    api.down = "Kubernetes API https://127.0.0.1:6443: no answer within 10 s"
    with pytest.raises(ApiError, match="no answer within 10 s"):
        api.call("GET", "/readyz")
    assert api.connection is None


def test_the_program_is_sent_whole_with_its_request_last():
    command = kube_reads.command({"kubeconfig": "k", "tls_dir": "t"}, [{"section": "api", "read": "readyz"}])
    assert (command.startswith("python3 -c '\"\"\"All of one fact"), command.endswith(
        """'{"api":{"kubeconfig":"k","tls_dir":"t"},"reads":[{"section":"api","read":"readyz"}]}'""")) == (True, True)
