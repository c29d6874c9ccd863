"""Proxmox host maintenance: before an operator reboots a Proxmox node, its k3s containers are
drained and shut down one at a time; afterwards (``maintenance_done``) they are started, back,
uncordoned and verified. Refused, with nothing changed, when it would lose etcd's quorum, leave no
node to run Rancher, or when an HAProxy host is a container on that node.

    make host-maintenance PVE=pve2            # before the reboot
    make host-maintenance PVE=pve2 DONE=1     # after it
    K3S_INVENTORY=cluster.yml python host_maintenance.py -y --data maintenance_node=pve2

``python host_maintenance.py [pyinfra options]`` exits 0 when the run got to its last line, else 1
(pyinfra alone also fails a run for the hosts whose containers are stopped). Options are host
data; see tasks/host_maintenance.py.
"""

import sys

if __name__ == "__main__":
    from tasks.host_maintenance import main

    sys.exit(main(sys.argv[1:]))
else:
    # pyinfra executes this file as deploy code (not as __main__).
    from tasks.host_maintenance import host_maintenance

    host_maintenance()
