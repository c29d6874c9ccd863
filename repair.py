"""Diagnose and heal NotReady k3s nodes and stale taints, over SSH or pct (issue 8).

    K3S_INVENTORY=cluster.yml pyinfra -y inventory.py repair.py     # exit 0 healthy/repaired, 1 otherwise
    K3S_INVENTORY=cluster.yml python repair.py -y                   # the same run with a telling exit status
    K3S_INVENTORY=cluster.yml python repair.py --dry                # the plan only; nothing changes

``python repair.py [pyinfra options]`` runs pyinfra on this file in-process and exits with
0 healthy (nothing to do), 10 repaired, 20 Kubernetes API unreachable, 30 not repaired (a node
reported, over a limit, still NotReady, or a dry run with work to do), 40 another run (a restart,
an upgrade, another repair) holds the cluster lock (tasks/cluster_lock.py) and nothing was done,
1 pyinfra itself failed.
The steps, limits and host data are in the package ``tasks/repair``: ``plan`` decides, ``access`` reaches
the nodes, ``actions`` acts, ``report`` reports.
"""

import sys

if __name__ == "__main__":
    from tasks.repair import main

    sys.exit(main(sys.argv[1:]))
else:
    # pyinfra executes this file as deploy code (not as __main__).
    from tasks.repair import repair

    repair()
