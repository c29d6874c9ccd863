"""Diagnosis: a running unit without the kmsg fix gets /dev/kmsg fixed now and a pointer to deploy.py."""

from tasks.repair.plan import DEPLOY_HINT, Action, Cause, diagnose
from tests.unit.repair_fixtures import running


def test_unit_without_fix_is_the_cause():
    assert diagnose("k3s-control", running("running_without_fix")).cause is Cause.UNIT_LACKS_FIX


def test_unit_without_fix_gets_kmsg_recreated():
    assert diagnose("k3s-control", running("running_without_fix")).action is Action.RECREATE_KMSG


def test_unit_without_fix_points_to_deploy():
    assert diagnose("k3s-control", running("running_without_fix")).detail == DEPLOY_HINT


def test_server_unit_is_chosen_where_the_agent_is_not_installed():
    assert diagnose("k3s-control", running("running_without_fix")).unit == "k3s.service"
