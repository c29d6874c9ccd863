"""`/` made private while k3s runs is shared again after the next deploy (not only at k3s's next
start), and that deploy changes nothing else."""

from __future__ import annotations

from tests.lab.helpers import changed_operations, in_container, rancher_rolled_out, run_pyinfra, wait_for

WORKER_VMID = "111"


def propagation() -> str:
    return in_container(WORKER_VMID, "findmnt -no PROPAGATION /").stdout.decode().strip()


def test_deploy_makes_a_private_root_shared_again(deployed_ssh, lab_inventory_ssh):
    # The restart tests before may leave a Rancher pod starting: the deploy would wait for /ping.
    wait_for("Rancher's Deployment rolled out", rancher_rolled_out, 180)
    in_container(WORKER_VMID, "mount --make-private /")
    private = propagation()
    result = run_pyinfra(lab_inventory_ssh, "deploy.py")
    assert (private, result.returncode, propagation(), changed_operations(result.stdout)) == \
        ("private", 0, "shared", ["/ shared mount"]), result.stdout[-3000:]
