"""The hosts verify/ checks and what each one is: from the inventory YAML, or from ``--hosts``.

From the inventory the roles, node names and addresses are the operator's; with ``--hosts`` they
are read from each host (its hostname, the units it has, its first address).

Example:
    cluster = cluster_from_inventory("lab/inventory-ssh.yml")
    cluster.control.host.run("hostname")
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

import testinfra

from connectors.pct_testinfra import ProxmoxNodesOption, node_options, proxmox_nodes_option
from connectors.proxmox_node import PROXMOX_GROUP, node_reach
from facts.names import HAPROXY_CONFIG, K3S_UNITS, RANCHER_BACKEND
from inventory_schema import InventoryHost, load_inventory

SERVER = "server"
AGENT = "agent"
HAPROXY = "haproxy"
# k3s_role -> the unit's short name, as operators type it (systemctl restart k3s-agent).
K3S_UNIT_NAMES = {role: unit.removesuffix(".service") for role, unit in K3S_UNITS.items()}
PROBE_ROLES = {K3S_UNIT_NAMES[SERVER]: SERVER, K3S_UNIT_NAMES[AGENT]: AGENT, "haproxy": HAPROXY}
# HAProxy may be installed anywhere; the Rancher HAProxy host is the one whose config has the backend.
ROLE_PROBE = (
    "hostname; "
    + "".join(f"systemctl cat {K3S_UNITS[role]} >/dev/null 2>&1 && echo role={K3S_UNIT_NAMES[role]}; "
              for role in (SERVER, AGENT))
    + f"grep -qs '^backend {RANCHER_BACKEND}' {HAPROXY_CONFIG} && echo role=haproxy; "
    "hostname -I"
)


@dataclass(frozen=True)
class Target:
    """One host to check: its node name, testinfra spec, roles and address."""

    name: str
    spec: str
    roles: frozenset[str]
    address: str
    backend_options: tuple[tuple[str, Any], ...] = ()

    @property
    def host(self) -> testinfra.host.Host:
        """The testinfra host (cached by testinfra per spec and options)."""
        return testinfra.get_host(self.spec, **dict(self.backend_options))

    @property
    def k3s_unit(self) -> str:
        """``k3s`` on a server, ``k3s-agent`` on an agent."""
        return K3S_UNIT_NAMES[SERVER if SERVER in self.roles else AGENT]


@dataclass(frozen=True)
class Cluster:
    """Everything verify/ checks: the hosts and the Rancher hostname HAProxy serves."""

    targets: tuple[Target, ...]
    rancher_hostname: str | None

    def with_role(self, *roles: str) -> list[Target]:
        """Targets holding any of ``roles``, in inventory order."""
        return [target for target in self.targets if target.roles & set(roles)]

    @property
    def control(self) -> Target:
        """The first control node: it serves the kubeconfig and runs in-cluster checks."""
        servers = self.with_role(SERVER)
        if not servers:
            raise LookupError(f"verify: no k3s control host ({K3S_UNITS[SERVER]}) among the hosts: check --hosts/--inventory")
        return servers[0]


def cluster_from_inventory(path: str) -> Cluster:
    """Targets for every k3s and haproxy host of the inventory YAML at ``path``."""
    inventory = load_inventory(path)
    nodes = proxmox_nodes_option(node_reach((host.groups, host.data) for host in inventory.hosts))
    targets = tuple(target_from_inventory(host, nodes) for host in inventory.hosts if PROXMOX_GROUP not in host.groups)
    hostnames = {host.data.get("rancher_hostname") for host in inventory.hosts} - {None}
    return Cluster(targets=targets, rancher_hostname=next(iter(hostnames), None))


def target_from_inventory(host: InventoryHost, proxmox_nodes: ProxmoxNodesOption = ()) -> Target:
    """A target reached the way pyinfra reaches the host (SSH, or pct on its Proxmox node, following
    a migrated container to another of ``proxmox_nodes``)."""
    data = host.data
    roles = frozenset({data["k3s_role"]} if "k3s_role" in data else {HAPROXY})
    if "pct_vmid" in data:
        node, options = node_options(data)
        spec = f"pct://{data['pct_vmid']}@{node}"
        options["proxmox_nodes"] = proxmox_nodes
    else:
        spec = f"ssh://{data['ssh_user']}@{data['ssh_hostname']}:{data['ssh_port']}"
        options = {
            "ssh_identity_file": data.get("ssh_key"),
            "ssh_extra_args": known_hosts_arguments(data.get("ssh_known_hosts_file")),
        }
    present = tuple(sorted((key, value) for key, value in options.items() if value is not None))
    return Target(name=host.name, spec=spec, roles=roles, address=data["node_ip"], backend_options=present)


def known_hosts_arguments(known_hosts_file: str | None) -> str | None:
    """OpenSSH options that pin the inventory's known_hosts file with host key checking on."""
    if not known_hosts_file:
        return None
    return f"-o UserKnownHostsFile={shlex.quote(known_hosts_file)} -o StrictHostKeyChecking=yes"


def cluster_from_hostspecs(specs: list[str], rancher_hostname: str | None, **options: Any) -> Cluster:
    """Targets for testinfra host specs, each asked for its hostname, units and address."""
    targets = []
    for spec in specs:
        present = tuple(sorted((key, value) for key, value in options.items() if value is not None))
        try:
            result = testinfra.get_host(spec, **dict(present)).run(ROLE_PROBE)
        except RuntimeError as error:
            stderr = getattr(error.args[0], "stderr", str(error)).strip()
            raise RuntimeError(f"verify: host {spec}: cannot connect ({stderr})") from None
        if result.rc != 0:
            reason = (result.stderr.strip() or f"exit {result.rc}").splitlines()[-1]
            raise RuntimeError(f"verify: host {spec}: cannot connect ({reason})")
        name, roles, address = parse_role_probe(result.stdout)
        targets.append(Target(name=name, spec=spec, roles=roles, address=address, backend_options=present))
    return Cluster(targets=tuple(targets), rancher_hostname=rancher_hostname)


def parse_role_probe(output: str) -> tuple[str, frozenset[str], str]:
    """Hostname, roles and first address from the output of :data:`ROLE_PROBE`."""
    lines = [line.strip() for line in output.strip().splitlines()]
    roles = frozenset(PROBE_ROLES[line[len("role=") :]] for line in lines if line.startswith("role="))
    addresses = lines[-1].split() if len(lines) > 1 else []
    return lines[0], roles, addresses[0] if addresses else ""
