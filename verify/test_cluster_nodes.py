"""Every inventory k3s node is registered, Ready and free of unreachable/not-ready taints."""

from verify.kube import blocking_taints, ready_status


def test_node_is_registered(node_name, cluster_nodes):
    assert node_name in cluster_nodes, (
        f"node {node_name} is not registered: check its k3s-agent (journalctl -u k3s-agent) and its token/server URL"
    )


def test_node_is_ready(node_name, cluster_nodes):
    status = ready_status(cluster_nodes[node_name]) if node_name in cluster_nodes else "not registered"
    assert status == "True", (
        f"node {node_name} is not Ready (Ready={status}): check /dev/kmsg and its k3s unit on that host"
    )


def test_node_has_no_unreachable_or_not_ready_taints(node_name, cluster_nodes):
    taints = blocking_taints(cluster_nodes[node_name]) if node_name in cluster_nodes else ["not registered"]
    assert taints == [], (
        f"node {node_name} carries {taints}: if it is Ready the watcher removes them within one timer period"
    )
