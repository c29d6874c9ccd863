"""Whether every etcd member of an HA cluster is healthy, asked the way real k3s allows: k3s ships
no etcdctl and its etcd wants client certificates (server/tls/etcd/), but every server's own
kube-apiserver reads its local member (k3s: ``etcd-servers`` https://127.0.0.1:2379). So on each
server, through its own kubeconfig (https://127.0.0.1:6443):

* ``GET /readyz?verbose`` answers 200 only when every readiness check passes, etcd's among them
  (kubernetes staging/src/k8s.io/apiserver pkg/server/healthz: ``[+]etcd ok``; a failed check makes
  it 500 and ``kubectl get --raw`` exit non-zero);
* a consistent read (``GET /api/v1/namespaces/kube-system``, no resourceVersion: a quorum read from
  etcd) answers, which a member without quorum cannot.

A server whose member is down, partitioned or without quorum fails both. Used by restart (before
the next server) and verify.

Example:
    problem = member_problem("k3s-control-2", ok=False, output="Error from server ... etcd")
"""

from __future__ import annotations

from pyinfra.api import StringCommand
from pyinfra.api.host import Host

HEALTH_COMMAND = ("k3s kubectl get --raw '/readyz?verbose' --request-timeout=5s"
                  " && k3s kubectl get --raw /api/v1/namespaces/kube-system --request-timeout=5s >/dev/null")


def member_problem(server: str, ok: bool, output: str) -> str:
    """Empty when the server's member is healthy, else one line naming it and the API's last word."""
    if ok:
        return ""
    last = (output.strip().splitlines() or ["no answer"])[-1]
    return f"{server}: etcd member not healthy ({last})"


def cluster_problem(servers: list[Host]) -> str:
    """Every server's :func:`member_problem`, joined; empty when all members are healthy."""
    problems = []
    for server in servers:
        ok, output = server.run_shell_command(StringCommand(HEALTH_COMMAND), _timeout=30)
        problems.append(member_problem(server.data.node_name, ok, "\n".join(output.stdout_lines + output.stderr_lines)))
    return "; ".join(problem for problem in problems if problem)
