"""The NodeDiagnosis fact on recorded output from a lab container."""

from tests.unit.repair_fixtures import diagnosis


def test_looping_unit_states_are_read():
    unit = diagnosis("unit_looping")["units"]["k3s-agent.service"]
    assert (unit["load_state"], unit["active_state"], unit["sub_state"], unit["result"]) == (
        "loaded", "activating", "auto-restart", "exit-code")


def test_every_exec_start_pre_line_is_read():
    assert len(diagnosis("unit_looping")["units"]["k3s-agent.service"]["exec_start_pre"]) == 4


def test_uninstalled_unit_is_not_found():
    assert diagnosis("unit_looping")["units"]["k3s.service"]["load_state"] == "not-found"


def test_journal_is_kept_for_the_unit_that_is_not_active():
    assert list(diagnosis("unit_looping")["journal"]) == ["k3s-agent.service"]


def test_journal_keeps_the_kubelet_error():
    assert ("Nov 25 10:01:22 k3s-worker-1 k3s[939]: Error: failed to run Kubelet: failed to create kubelet: "
            "open /dev/kmsg: no such file or directory") in diagnosis("kmsg_missing_no_fix")["journal"]["k3s-agent.service"]


def test_token_values_in_the_journal_are_redacted():
    journal = "\n".join(diagnosis("kmsg_missing_no_fix")["journal"]["k3s-agent.service"])
    assert ("K10secretvalue" not in journal, "--token=<redacted>" in journal) == (True, True)


def test_missing_kmsg_is_unusable():
    assert diagnosis("no_k3s")["kmsg"] == {"kind": "missing", "target": "", "usable": False}
