"""Bring the inventory's LXC hosts to a k3s cluster that survives restarts, Rancher behind HAProxy.

    K3S_INVENTORY=cluster.yml pyinfra -y inventory.py deploy.py

Order: preflight (stops a host k3s would fail on; its config fixes go into config.yaml); on
Proxmox nodes, the LXC settings of the k3s containers that opted in; HAProxy's config, live (with
several servers it is their registration address, so it carries the API before any joins); the k3s
binary, config, token and image archives everywhere; the first control node's unit, and with several
servers, once it is Ready, the other servers' units (they join its etcd cluster, as k3s-ansible
orders them), wait until the control nodes are Ready; the workers' units (they join), wait until
they are Ready; every node holds the images the charts run; the node watcher on every control
node; cert-manager when Rancher's TLS needs it, Rancher; HAProxy's critical servers UP; then restart
and verify when this run changed anything on a k3s host (or inventory data
``restart_after_deploy: true`` asks for it); last, on a Proxmox host that is this machine and
opted in, the repair on a timer. A second run changes nothing.
"""

from typing import cast

from pyinfra import host, inventory

from facts.preflight import PreflightReport
from tasks import all_hosts_reach
from tasks.airgap_images import image_archives_present, images_present
from tasks.control_plane import first_server, is_ha
from tasks.haproxy import critical_servers_up, haproxy
from tasks.k3s_binary import k3s_binary
from tasks.k3s_config import k3s_config
from tasks.k3s_ready import nodes_ready
from tasks.k3s_token import check_token_matches_cluster
from tasks.k3s_units import K3S_INPUT_OPERATIONS, k3s_changed_anywhere, k3s_inputs, k3s_unit, unit_name
from tasks.node_watcher import node_watcher, watcher_files
from tasks.preflight import preflight
from tasks.proxmox_lxc import k3s_lxc_settings, managed_containers
from tasks.rancher import chart_images, rancher
from tasks.repair_timer import repair_timer
from tasks.restart import restart_and_verify
from tasks.root_propagation import root_shared
from tasks.settings import check_command_line_data, flag, seconds


def group_node_names(group: str) -> list[str]:
    return [member.data.node_name for member in inventory.get_group(group, [])]


check_command_line_data()
# pyinfra types a deploy's result as an operation's; preflight() returns the host's report.
preflight_report = cast(PreflightReport | None, preflight())

if host in inventory.get_group("proxmox_hosts", []) and managed_containers():
    k3s_lxc_settings(name="k3s LXC settings", containers=managed_containers())

haproxy()
all_hosts_reach(name="HAProxy up", point="HAProxy up")

role = host.data.get("k3s_role")
waits_here = host == first_server()
if role == "server":
    check_token_matches_cluster()
if role:
    inputs = k3s_inputs(preflight_report)
    assert preflight_report is not None, "preflight() reads every k3s host"
    root_shared(name="/ shared mount", propagation=preflight_report["root_propagation"])
    input_operations = K3S_INPUT_OPERATIONS.setdefault(host.name, [])
    input_operations.append(k3s_binary(name="k3s binary", sha256=inputs.binary_sha256))
    input_operations.append(k3s_config(name="k3s config and token", files=inputs.config))
    input_operations.append(image_archives_present(name="k3s image archives", archives=inputs.image_archives))
    if role == "server" and host == first_server():
        input_operations.append(k3s_unit(name="k3s server unit", unit=unit_name(), files=inputs.units,
                                         stamp=inputs.stamp))
    if is_ha():
        nodes_ready(name="First control node Ready", names=[first_server().data.node_name], waits_here=waits_here,
                    timeout=seconds("k3s_ready_timeout"))
    if role == "server" and host != first_server():
        input_operations.append(k3s_unit(name="k3s joining server units", unit=unit_name(), files=inputs.units,
                                         stamp=inputs.stamp))
    nodes_ready(name="Control nodes Ready", names=group_node_names("k3s_control"), waits_here=waits_here,
                timeout=seconds("k3s_ready_timeout"))
    if role == "agent":
        input_operations.append(k3s_unit(name="k3s agent unit", unit=unit_name(), files=inputs.units,
                                         stamp=inputs.stamp))
nodes_ready(name="All nodes Ready", names=group_node_names("k3s_control") + group_node_names("k3s_workers"),
            waits_here=waits_here, timeout=seconds("k3s_ready_timeout"))
if role:
    images_present(name="Chart images on this node", images=chart_images())
if role == "server":
    node_watcher(name="Node watcher", files=watcher_files())
    rancher()
all_hosts_reach(name="Cluster and Rancher up", point="cluster and Rancher up")
critical_servers_up()
all_hosts_reach(name="HAProxy servers UP", point="HAProxy servers UP")
restart_asked = flag("restart_after_deploy")
restart_and_verify(_if=lambda: restart_asked or k3s_changed_anywhere())
# Last, so a newly started timer's first run (at once) does not land in the scripted restart above.
repair_timer()
