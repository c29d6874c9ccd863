"""The lab's `pct` as the Proxmox node that holds a container runs it: what the tests and benches use
to act on a container by vmid (`pct reboot 112` is typed on 112's node).

Upstream: `pct` sees only its own node's containers (proxmox/pve-container src/PVE/LXC/Config.pm
`cfs_config_path`: `nodes/$node/lxc/$vmid.conf`), so an operator runs it on the node whose
`/etc/pve/nodes/<node>/lxc` holds the conf (pmxcfs shows every node's confs on every node:
proxmox/pve-cluster src/pmxcfs). In the lab every node's pct is `lab/bin/pct` on this machine
with `LAB_PVE_NODE=<node>`, exactly what node lab2's sshd sets for its sessions (lab/node_sshd.py);
the SSH hop to lab2 is what the product's pct connector and tests/lab/test_two_proxmox_nodes.py
exercise, so the tests' own helpers skip it. The node is looked up at each call, so a container
that migrated (`lab.py migrate`) is followed.

Example:

    subprocess.run(pct_on_node("reboot", "112"))   # env LAB_PVE_NODE=lab2 lab/bin/pct reboot 112
    subprocess.run(pct_on_node("list"))            # node lab's containers
"""

from __future__ import annotations

import containers
from topology import LAB_NODE, PCT


def pct_on_node(*args: str) -> list[str]:
    """The command line of `pct <args>` on the node whose conf directory has the vmid ``args[1]``
    (pct's `<command> <vmid> ...` order); on node lab for a command without a vmid, or a vmid no
    node has (pct itself then says the conf does not exist)."""
    vmid = args[1] if len(args) > 1 and args[1].isdigit() else None
    node = (containers.conf_node(int(vmid)) if vmid is not None else None) or LAB_NODE
    return ["env", f"LAB_PVE_NODE={node}", str(PCT), *args]
