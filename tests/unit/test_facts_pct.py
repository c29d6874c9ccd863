"""PctList.process on `pct list` output (columns VMID Status Lock Name; Lock may be empty)."""

from pathlib import Path

from facts.pct import PctList

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LOCKED = """VMID       Status     Lock         Name
105        stopped    backup       web-1
111        running                 k3s-worker-1
"""


def test_lab_list_maps_names_to_vmids():
    containers = PctList().process((FIXTURES / "facts_pct_list_lab.txt").read_text().splitlines())
    assert {name: item["vmid"] for name, item in containers.items()} == {
        "k3s-control": 101, "k3s-worker-1": 111, "k3s-worker-2": 112, "haproxy": 121}


def test_lock_column_is_read_when_present():
    assert PctList().process(LOCKED.splitlines())["web-1"] == {
        "vmid": 105, "status": "stopped", "lock": "backup", "name": "web-1"}


def test_empty_lock_column_leaves_name_last():
    assert PctList().process(LOCKED.splitlines())["k3s-worker-1"]["lock"] == ""
