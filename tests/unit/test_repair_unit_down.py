"""Diagnosis: a k3s unit that is failed, inactive or crash-looping is restarted."""

from tasks.repair.plan import Action, Cause, diagnose
from tests.unit.repair_fixtures import running


def test_looping_agent_is_the_cause():
    assert diagnose("k3s-worker-1", running("unit_looping")).cause is Cause.UNIT_DOWN


def test_looping_agent_is_restarted():
    assert diagnose("k3s-worker-1", running("unit_looping")).action is Action.RESTART_UNIT


def test_the_agent_unit_is_named():
    assert diagnose("k3s-worker-1", running("unit_looping")).unit == "k3s-agent.service"


def test_checked_states_name_the_unit_state_and_result():
    checked = diagnose("k3s-worker-1", running("unit_looping")).checked
    assert "k3s-agent.service activating (auto-restart), result exit-code" in checked
