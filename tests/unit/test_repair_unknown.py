"""Diagnosis: when no known cause is found, the node is reported with what was checked, never acted on."""

from tasks.repair.plan import Action, Cause, Limits, Observation, diagnose, plan
from tests.unit.repair_fixtures import cluster, node, running


def test_healthy_looking_node_has_an_unknown_cause():
    assert diagnose("k3s-worker-1", running("running_with_fix")).cause is Cause.UNKNOWN


def test_unknown_cause_lists_everything_checked():
    assert diagnose("k3s-worker-1", running("running_with_fix")).checked == (
        "found as @pct/lab/111",
        "container running",
        "/dev/kmsg -> /dev/console works",
        "k3s-agent.service active (running)",
        "kmsg fix in ExecStartPre: yes",
    )


def test_unresolved_node_is_unknown_and_says_where_it_was_looked_for():
    finding = diagnose("k3s-worker-9", Observation(location=""))
    assert finding.checked == ("no inventory host and no container on proxmox_hosts named k3s-worker-9",)


def test_unreachable_node_is_unknown():
    finding = diagnose("k3s-worker-1", Observation(location="k3s-worker-1 (ssh)", diagnosis=None))
    assert (finding.cause, finding.checked[-1]) == (Cause.UNKNOWN, "cannot run commands in it")


def test_host_without_k3s_units_is_unknown():
    finding = diagnose("haproxy", running("no_k3s"))
    assert finding.checked[-1] == "neither k3s.service nor k3s-agent.service is installed"


def test_unknown_cause_is_only_reported():
    nodes = cluster(node("k3s-control"), node("k3s-worker-1", "Unknown"))
    [step] = plan(nodes, {"k3s-worker-1": running("running_with_fix")}, {}, Limits())
    assert (step.act, step.action, step.why) == (False, Action.REPORT, "unknown cause: not guessed at")
