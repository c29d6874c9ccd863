"""k3s_unit_state on digests and `systemctl show` output recorded in the lab's Debian containers, as
the host's ManagedState read prints them (its unit marker in place of the recording's)."""

from pathlib import Path

from facts.k3s_units import k3s_unit_state
from facts.managed_state import UNIT_MARKER, parse_state

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORDED_MARKER = "--- systemctl show"


def process(name):
    lines = (FIXTURES / name).read_text().replace(RECORDED_MARKER, UNIT_MARKER + "k3s.service").splitlines()
    state = parse_state(lines)
    return k3s_unit_state(state["files"], state["units"]["k3s.service"])


def test_effective_kmsg_line_is_read_from_systemd():
    assert process("facts_k3s_unit_deploy_server.txt")["exec_start_pre"][0] == {
        "argv": "/bin/bash -c rm -f /dev/kmsg && ln -sf /dev/console /dev/kmsg",
        "ignore_errors": True,
    }


def test_every_exec_start_pre_line_is_kept_in_order():
    assert [line["argv"].split()[0] for line in process("facts_k3s_unit_deploy_server.txt")["exec_start_pre"]] == [
        "/bin/bash", "/bin/mount", "/sbin/modprobe", "/sbin/modprobe"]


def test_unit_file_digest_is_read():
    assert process("facts_k3s_unit_deploy_server.txt")["files"]["/etc/systemd/system/k3s.service"]["mode"] == "644"


def test_absent_stamp_is_none():
    assert process("facts_k3s_unit_deploy_server.txt")["files"][
        "/var/lib/k3s-lxc-resilience/k3s.service.applied"] is None


def test_restarting_unit_is_not_active():
    unit = process("facts_k3s_unit_deploy_server.txt")
    assert (unit["active_state"], unit["sub_state"], unit["unit_file_state"]) == ("activating", "auto-restart", "enabled")


def test_missing_unit_is_not_found():
    unit = process("facts_k3s_unit_not_installed.txt")
    assert (unit["load_state"], unit["exec_start_pre"], unit["drop_in_paths"]) == ("not-found", [], [])
