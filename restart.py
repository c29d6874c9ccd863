"""Scripted restart of the k3s nodes, then the verify/ suites: "it survives a restart", in one command.

    pyinfra -y inventory.py restart.py                                  # k3s, then each k3s-agent
    pyinfra -y inventory.py restart.py --data restart_mode=container    # pct reboot (pct hosts)
    pyinfra -y inventory.py restart.py --data restart_nodes=k3s-worker-1 --data restart_serial=false

Options are host data; see tasks/restart.py.
"""

from tasks.restart import restart_and_verify

restart_and_verify()
