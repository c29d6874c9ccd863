"""Several servers (embedded etcd): every etcd member is healthy, and the API answers through
HAProxy's 6443 with a certificate that names its address. Collected only for such a cluster
(verify/conftest.py): a lone server's verify is unchanged."""

from __future__ import annotations

import tempfile

import kubernetes
import pytest

from tasks.etcd_health import HEALTH_COMMAND, member_problem
from verify.kube import write_kubeconfig

pytestmark = pytest.mark.ha


def test_etcd_member_is_healthy(control_node):
    result = control_node.host.run(HEALTH_COMMAND)
    problem = member_problem(control_node.name, result.rc == 0, result.stdout + result.stderr)
    assert not problem, f"{problem}: see journalctl -u k3s on {control_node.name}"


def test_api_answers_through_haproxy(haproxy_node, control, gathered, kubeconfig_path):
    with tempfile.TemporaryDirectory(prefix="verify-api-") as directory:
        path = write_kubeconfig(gathered.of(control).facts["kubeconfig"], haproxy_node.address, directory)
        api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(path))
        try:
            names = [node.metadata.name for node in api.list_node(_request_timeout=10).items if node.metadata]
        except Exception as error:  # any failure is the finding: refused, TLS name mismatch, 503
            pytest.fail(f"the API through {haproxy_node.name} ({haproxy_node.address}:6443) failed "
                        f"({type(error).__name__}: {error}): see backend_k3s_api in its stats page")
    assert control.name in names
