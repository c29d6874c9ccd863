"""Diagnosis: /dev/kmsg missing or a link that leads nowhere is recreated."""

from tasks.repair.plan import DEPLOY_HINT, Action, Cause, diagnose
from tests.unit.repair_fixtures import diagnosis, running


def test_missing_kmsg_is_the_cause():
    assert diagnose("k3s-worker-1", running("kmsg_missing_no_fix")).cause is Cause.KMSG_BROKEN


def test_missing_kmsg_is_recreated():
    assert diagnose("k3s-worker-1", running("kmsg_missing_no_fix")).action is Action.RECREATE_KMSG


def test_missing_kmsg_without_the_unit_fix_says_deploy_makes_it_last():
    assert diagnose("k3s-worker-1", running("kmsg_missing_no_fix")).detail == DEPLOY_HINT


def test_dangling_kmsg_link_is_broken_even_with_a_running_unit():
    assert diagnose("k3s-worker-1", running("kmsg_dangling_with_fix")).cause is Cause.KMSG_BROKEN


def test_dangling_kmsg_with_the_unit_fix_has_no_deploy_hint():
    assert diagnose("k3s-worker-1", running("kmsg_dangling_with_fix")).detail == ""


def test_kmsg_state_is_read_from_the_fact():
    assert diagnosis("kmsg_dangling_with_fix")["kmsg"] == {"kind": "link", "target": "/dev/nonexistent",
                                                            "usable": False}
