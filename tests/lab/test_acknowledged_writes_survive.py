"""An acknowledged write survives a crash of k3s, as k3s commits to its datastore before it answers
(kine on sqlite, or etcd): a namespace created, then at once `systemctl kill -s KILL --kill-whom=main
k3s` on the control node; once systemd has restarted k3s the namespace is there."""

from __future__ import annotations

import time

from tests.lab.helpers import in_container, kubectl, wait_for

CONTROL_VMID = "101"


def test_namespace_created_just_before_sigkill_is_kept(deployed_ssh):
    name = f"durable-{int(time.time())}"
    assert kubectl("create", "namespace", name).startswith(f"namespace/{name}")
    in_container(CONTROL_VMID, "systemctl kill -s KILL --kill-whom=main k3s")
    wait_for("the API answering again", lambda: kubectl("get", "--raw", "/readyz") == "ok", 120)
    assert kubectl("get", "namespace", name, "-o", "jsonpath={.metadata.name}") == name
    kubectl("delete", "namespace", name, "--wait=false")
