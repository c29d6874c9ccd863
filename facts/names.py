"""One definition of each name the deploy writes on hosts and the facts, repair and verify read back.

Example:

    from facts.names import K3S_UNITS, KMSG_EXEC_START_PRE
    K3S_UNITS["agent"] == "k3s-agent.service"
"""

SYSTEMD_DIR = "/etc/systemd/system"
# The k3s unit of each k3s_role, as the upstream installer names them.
K3S_UNITS = {"server": "k3s.service", "agent": "k3s-agent.service"}
# LXC builds /dev afresh on every container start without /dev/kmsg, which the kubelet opens first.
KMSG_FIX = "rm -f /dev/kmsg && ln -sf /dev/console /dev/kmsg"
KMSG_EXEC_START_PRE = f'-/bin/bash -c "{KMSG_FIX}"'
# The node lifecycle controller's condition taints: the truth on a NotReady node, stale on a Ready one.
WATCHED_TAINT_KEYS = ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")
WATCHED_EFFECTS = ("NoSchedule", "NoExecute")
HAPROXY_CONFIG = "/etc/haproxy/haproxy.cfg"
HAPROXY_SERVICE = "haproxy.service"
RANCHER_BACKEND = "backend_rancher"
# Several k3s servers: HAProxy carries their API (6443) too.
API_BACKEND = "backend_k3s_api"
# k3s applies every manifest in this directory; the deploy's charts are one file each.
K3S_MANIFESTS_DIR = "/var/lib/rancher/k3s/server/manifests"


def manifest_path(name: str) -> str:
    return f"{K3S_MANIFESTS_DIR}/{name}.yaml"
# k3s's admin kubeconfig (its server: is the local API, https://127.0.0.1:<https-listen-port>) and the
# server's certificates, among them the admin client certificate that kubeconfig embeds
# (k3s-io/k3s pkg/daemons/control/deps/deps.go): what facts/kube_reads.py talks to the API with.
K3S_KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
K3S_SERVER_TLS_DIR = "/var/lib/rancher/k3s/server/tls"
KUBE_API = {"kubeconfig": K3S_KUBECONFIG, "tls_dir": K3S_SERVER_TLS_DIR}
