"""Rancher answers /ping in the cluster and through HAProxy, and nothing it needs is Pending."""

from verify.kube import pending_svclb_pods
from verify.rancher import ping_through, trusted_ca

RANCHER_NAMESPACE = "cattle-system"


def test_no_svclb_pod_is_pending(all_pods):
    pending = pending_svclb_pods(all_pods)
    assert pending == {}, f"ServiceLB pods Pending: {pending}; the nodes they need are tainted or NotReady"


def test_rancher_pings_via_cluster_ip(control, rancher_hostname, gathered):
    ping = gathered.of(control).facts["rancher_cluster_ip"]
    address, port = ping["address"], ping["port"]
    assert ping["body"] == "pong", (
        f"Rancher /ping via ClusterIP {address}:{port} from {control.name} gave {ping['body']!r} "
        f"({ping['error'] or 'no error'}): check the {RANCHER_NAMESPACE}/rancher pod"
    )


def test_rancher_pings_via_haproxy_with_a_trusted_certificate(haproxy_node, rancher_hostname, core_api):
    ca_pem, trusted = trusted_ca(core_api)
    status, body = ping_through(haproxy_node.address, rancher_hostname, ca_pem)
    assert (status, body) == (200, "pong"), (
        f"Rancher /ping via HAProxy {haproxy_node.name} ({rancher_hostname}, trusting {trusted}) gave "
        f"{status} {body[:160]!r}: check HAProxy's backend_rancher servers and Rancher's certificate"
    )


def test_rancher_pings_via_each_k3s_node(haproxy_node, rancher_hostname, gathered):
    """Each address HAProxy balances over answers by itself: HAProxy's own view lags by its checks."""
    pings = gathered.of(haproxy_node).facts["haproxy"]["pings"]
    silent = {server: (ping["body"].strip() or ping["error"])[:80]
              for server, ping in pings.items() if ping["body"].strip() != "pong"}
    assert (pings != {}, silent) == (True, {}), (
        f"Rancher /ping from {haproxy_node.name} straight to these nodes failed: {silent}; "
        "check their svclb pods and that k3s runs there"
    )
