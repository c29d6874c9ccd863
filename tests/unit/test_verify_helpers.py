"""Pure helpers of verify/: kubeconfig rewrite, HAProxy stats, role probe."""

import os
import stat

import yaml
from kubernetes.client import V1Node, V1NodeCondition, V1NodeSpec, V1NodeStatus, V1ObjectMeta, V1Taint

from verify.haproxy_stats import first_error, server_states, servers_not_up
from verify.kube import blocking_taints, ready_status, rewrite_server, write_kubeconfig
from verify.targets import parse_role_probe

K3S_KUBECONFIG = """
apiVersion: v1
clusters:
- cluster: {certificate-authority-data: Q0E=, server: 'https://127.0.0.1:6443'}
  name: default
kind: Config
"""

SHOW_STAT = """# pxname,svname,qcur,status,check_status,
fe_rancher,FRONTEND,,OPEN,,
backend_rancher,k3s-control,0,UP,L4OK,
backend_rancher,k3s-worker-1,0,DOWN,L4CON,
backend_rancher,k3s-worker-2,0,UP 1/3,L4OK,
backend_rancher,BACKEND,0,UP,,
other,k3s-control,0,DOWN,L4CON,
"""


def test_kubeconfig_server_points_at_the_control_address():
    rewritten = yaml.safe_load(rewrite_server(K3S_KUBECONFIG, "10.0.0.1"))
    assert rewritten["clusters"][0]["cluster"]["server"] == "https://10.0.0.1:6443"


def test_kubeconfig_file_is_private(tmp_path):
    path = write_kubeconfig(K3S_KUBECONFIG, "10.0.0.1", str(tmp_path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_show_stat_gives_the_servers_of_one_backend():
    assert server_states(SHOW_STAT, "backend_rancher") == {
        "k3s-control": ("UP", "L4OK"),
        "k3s-worker-1": ("DOWN", "L4CON"),
        "k3s-worker-2": ("UP 1/3", "L4OK"),
    }


def test_servers_not_up_are_named_with_their_check():
    assert servers_not_up(server_states(SHOW_STAT, "backend_rancher")) == {"k3s-worker-1": "DOWN (L4CON)"}


def test_first_error_prefers_haproxy_alert():
    output = "[NOTICE] x\n[ALERT] config : parsing [cfg:3] : unknown keyword 'bnd'\n[ALERT] Fatal errors found\n"
    assert first_error(output) == "[ALERT] config : parsing [cfg:3] : unknown keyword 'bnd'"


def node(ready: str, taints: list[tuple[str, str]]) -> V1Node:
    return V1Node(
        metadata=V1ObjectMeta(name="n"),
        spec=V1NodeSpec(taints=[V1Taint(key=key, effect=effect) for key, effect in taints]),
        status=V1NodeStatus(conditions=[V1NodeCondition(type="Ready", status=ready)]),
    )


def test_ready_status_is_the_ready_condition():
    assert ready_status(node("Unknown", [])) == "Unknown"


def test_only_unreachable_and_not_ready_taints_block():
    tainted = node("True", [("node.kubernetes.io/unreachable", "NoExecute"), ("dedicated", "NoSchedule")])
    assert blocking_taints(tainted) == ["node.kubernetes.io/unreachable:NoExecute"]


def test_role_probe_gives_name_roles_and_first_address():
    assert parse_role_probe("k3s-control\nrole=k3s\nrole=haproxy\n10.0.0.1 fd00::1\n") == (
        "k3s-control", frozenset({"server", "haproxy"}), "10.0.0.1",
    )
