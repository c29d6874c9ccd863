"""Diagnosis: a NotReady node whose container is stopped is started first."""

from tasks.repair.plan import Action, Cause, Limits, Observation, api_down_nodes, diagnose, plan
from tests.unit.repair_fixtures import cluster, node

STOPPED = Observation(location="@pct/lab/111", container="stopped")


def test_stopped_container_is_the_cause():
    assert diagnose("k3s-worker-1", STOPPED).cause is Cause.CONTAINER_STOPPED


def test_stopped_container_is_started():
    assert diagnose("k3s-worker-1", STOPPED).action is Action.START_CONTAINER


def test_stopped_container_wins_over_what_could_not_be_read():
    # Nothing runs in a stopped container, so no NodeDiagnosis exists; the pct status decides.
    assert diagnose("k3s-worker-1", Observation(location="k3s-worker-1 (vmid 111 on lab)", container="stopped",
                                                diagnosis=None)).cause is Cause.CONTAINER_STOPPED


def test_stopped_container_is_planned_for_action():
    nodes = cluster(node("k3s-control"), node("k3s-worker-1", "Unknown"), node("k3s-worker-2"))
    [step] = plan(nodes, {"k3s-worker-1": STOPPED}, {}, Limits())
    assert (step.node, step.act, step.action) == ("k3s-worker-1", True, Action.START_CONTAINER)


def test_stopped_control_container_is_planned_while_the_api_is_down():
    [step] = plan(api_down_nodes(["k3s-control"]), {"k3s-control": STOPPED}, {}, Limits())
    assert (step.node, step.symptom, step.action) == ("k3s-control", "NotReady (Unknown, API unreachable)",
                                                      Action.START_CONTAINER)
