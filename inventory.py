"""pyinfra inventory: the cluster described in the YAML named by ``K3S_INVENTORY``.

    K3S_INVENTORY=cluster.yml pyinfra inventory.py deploy.py

Groups: ``k3s_control``, ``k3s_workers``, ``haproxy`` and, when listed, ``proxmox_hosts``.
The YAML's format is in docs/ARCHITECTURE.md; errors name the host and the field.
"""

import sys

from inventory_schema import InventoryError, inventory_path, load_inventory

try:
    _inventory = load_inventory(inventory_path())
except InventoryError as error:
    sys.exit(str(error))


def _group(name: str) -> list[tuple[str, dict]]:
    return [(host.pyinfra_name, dict(host.data)) for host in _inventory.group(name)]


k3s_control = _group("k3s_control")
k3s_workers = _group("k3s_workers")
haproxy = _group("haproxy")
proxmox_hosts = _group("proxmox_hosts")
