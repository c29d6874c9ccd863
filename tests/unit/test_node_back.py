"""When a restarted node counts as back (tasks/node_back.py): the new kubelet's Ready post, a fresh
lease and its pods serving again; never what the Node or the pods showed before the restart."""

from __future__ import annotations

import json

import pytest

from tasks.node_back import NodeRestart, not_back_yet, parse_probe, pod_uids

ISSUED = 1_000_000_000.5  # 2001-09-09T01:46:40.5Z
BEFORE, SAME_SECOND, AFTER = "2001-09-09T01:46:39Z", "2001-09-09T01:46:40Z", "2001-09-09T01:46:42Z"


def node(status: str = "True", heartbeat: str = AFTER, reason: str = "KubeletReady") -> dict:
    return {"metadata": {"name": "w1"}, "status": {"conditions": [
        {"type": "Ready", "status": status, "reason": reason, "lastHeartbeatTime": heartbeat}]}}


def lease(renewed: str = "2001-09-09T01:46:41.000001Z") -> dict:
    return {"spec": {"renewTime": renewed}}


def pod(uid: str = "u1", phase: str = "Running", ready: str = "True", started: str = AFTER) -> dict:
    return {"metadata": {"namespace": "cattle-system", "name": f"rancher-{uid}", "uid": uid},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}],
                       "containerStatuses": [{"name": "rancher", "state": {"running": {"startedAt": started}}}]}}


def probe(node_obj=None, lease_obj=None, pods=None) -> dict:
    return {"node": node() if node_obj is None else node_obj, "lease": lease() if lease_obj is None else lease_obj,
            "pods": {"items": [pod()] if pods is None else pods}}


REBOOT = NodeRestart("w1", ISSUED, frozenset({"u1"}), containers_restarted=True)
SERVICE = NodeRestart("w1", ISSUED, frozenset({"u1"}), containers_restarted=False)


def test_back_when_ready_posted_lease_renewed_and_pods_restarted_after_the_restart():
    assert not_back_yet(probe(), REBOOT) == ""


@pytest.mark.parametrize(("found", "problem"), [
    (probe(node_obj=node(heartbeat=BEFORE)), "no Ready=True posted since the restart"),
    (probe(node_obj=node(heartbeat=SAME_SECOND)), "no Ready=True posted since the restart"),
    (probe(node_obj=node("False", reason="KubeletNotReady")), "Ready=False (KubeletNotReady)"),
    (probe(lease_obj=lease("2001-09-09T01:46:40.400000Z")), "node lease not renewed since the restart"),
    (probe(pods=[pod(ready="False")]), "pod cattle-system/rancher-u1 not Running and Ready"),
    (probe(pods=[pod(started=BEFORE)]), "pod cattle-system/rancher-u1 still reports containers from before the reboot"),
    ({"node": None, "lease": None, "pods": None}, "node not readable from the API"),
    (probe() | {"pods": None}, "pods not readable from the API"),
])
def test_not_back_names_what_is_still_from_before(found, problem):
    assert not_back_yet(found, REBOOT) == problem


def test_old_process_ready_beside_a_fresh_lease_is_not_back():
    """The race of issue 19: the new kubelet renewed its lease but has not posted Ready yet."""
    assert not_back_yet(probe(node_obj=node(heartbeat=BEFORE), lease_obj=lease()), SERVICE) != ""


def test_after_a_unit_restart_adopted_pods_keep_their_old_containers():
    assert not_back_yet(probe(pods=[pod(started=BEFORE)]), SERVICE) == ""


def test_pods_not_bound_before_or_finished_are_not_waited_for():
    others = [pod("new", ready="False"), pod("u1", phase="Succeeded", ready="False")]
    assert not_back_yet(probe(pods=others), REBOOT) == ""


def test_pod_uids_leave_out_finished_and_deleting_pods():
    deleting = pod("u3")
    deleting["metadata"]["deletionTimestamp"] = AFTER
    found = probe(pods=[pod("u1"), pod("u2", phase="Succeeded"), deleting])
    assert pod_uids(found) == frozenset({"u1"})


@pytest.mark.parametrize("output", ["", "partial {", "null", json.dumps([1])])
def test_unreadable_probe_output_reads_as_nothing_known(output):
    assert parse_probe(output) == {"node": None, "lease": None, "pods": None}
