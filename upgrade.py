"""Rolling k3s upgrade to the inventory's ``k3s_version``: servers one at a time, then agents, each
drained, its binary replaced (the old one kept as ``/usr/local/bin/k3s.previous``), restarted, Ready
at the new version, uncordoned; a re-run resumes where a run stopped.

    K3S_INVENTORY=cluster.yml pyinfra -y inventory.py upgrade.py
    pyinfra -y inventory.py upgrade.py --data upgrade_drain_timeout=600

Options are host data; see tasks/upgrade.py.
"""

from tasks.upgrade import rolling_upgrade

rolling_upgrade()
