"""Rancher answers /ping in the cluster and through HAProxy, and nothing it needs is Pending."""

from facts.names import RANCHER_BACKEND
from verify.haproxy_stats import SHOW_STAT, server_addresses
from verify.kube import https_port, pending_svclb_pods
from verify.rancher import ping_node_command, ping_through

RANCHER_NAMESPACE = "cattle-system"


def test_no_svclb_pod_is_pending(all_pods):
    pending = pending_svclb_pods(all_pods)
    assert pending == {}, f"ServiceLB pods Pending: {pending}; the nodes they need are tainted or NotReady"


def test_rancher_pings_via_cluster_ip(control, rancher_service):
    address, port = rancher_service.spec.cluster_ip, https_port(rancher_service)
    # -k: Rancher's self-signed certificate; this checks reachability, not trust.
    answer = control.host.run("curl -sk --max-time 10 https://%s:%s/ping", address, str(port))
    assert answer.stdout == "pong", (
        f"Rancher /ping via ClusterIP {address}:{port} from {control.name} gave {answer.stdout!r} "
        f"(curl exit {answer.rc}): check the {RANCHER_NAMESPACE}/rancher pod"
    )


def test_rancher_pings_via_haproxy(haproxy_node, rancher_hostname):
    status, body = ping_through(haproxy_node.address, rancher_hostname)
    assert (status, body) == (200, "pong"), (
        f"Rancher /ping via HAProxy {haproxy_node.name} ({rancher_hostname}) gave {status} {body[:60]!r}: "
        f"check HAProxy's {RANCHER_BACKEND} servers"
    )


def test_rancher_pings_via_each_k3s_node(haproxy_node, rancher_hostname):
    """Each address HAProxy balances over answers by itself: HAProxy's own view lags by its checks."""
    addresses = server_addresses(haproxy_node.host.check_output(SHOW_STAT), RANCHER_BACKEND)
    answers = {server: haproxy_node.host.run(ping_node_command(address, rancher_hostname))
               for server, address in addresses.items()}
    silent = {server: (answer.stdout.strip() or answer.stderr.strip())[:80]
              for server, answer in answers.items() if answer.stdout.strip() != "pong"}
    assert (addresses != {}, silent) == (True, {}), (
        f"Rancher /ping from {haproxy_node.name} straight to these nodes failed: {silent}; "
        "check their svclb pods and that k3s runs there"
    )
