"""Where the node watcher lives on a control node (its state is read by ``facts.systemd_timer``)."""

TIMER = "k3s-node-watcher.timer"
SERVICE = "k3s-node-watcher.service"
SCRIPT = "/usr/local/bin/k3s-node-watcher"
# Several servers: the Lease lock script the watcher takes its cluster-wide lease with, and that Lease.
LEASE_SCRIPT = "/usr/local/lib/k3s-node-watcher/k3s_lease_lock.py"
LEASE = "kube-system/k3s-node-watcher"
ENV_FILE = "/etc/default/k3s-node-watcher"
# The script's own --log-file default: it runs alone on the host.
LOG = "/var/log/k3s-node-watcher.log"
