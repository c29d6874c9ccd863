"""Preflight only: print, per host, what would break k3s in its LXC container and the fix.

    K3S_INVENTORY=cluster.yml pyinfra -y inventory.py preflight.py

Changes nothing. A host with a blocking failure is reported as failed (non-zero exit), unless
inventory data ``preflight_continue: true``. ``deploy.py`` runs the same preflight as its first step.
"""

from tasks.preflight import preflight
from tasks.settings import check_command_line_data

check_command_line_data()
preflight()
