"""PctList.process on `pct list` output (columns VMID Status Lock Name; Lock may be empty)."""

from pathlib import Path

from facts.pct import PctList, PctLxc

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


PCT_LXC_OUTPUT = """6.8.12-4-pve
yes
--- conf 111
arch: amd64
hostname: k3s-worker-1
lxc.apparmor.profile: unconfined
--- boot config 111 no
--- conf 112
hostname: k3s-worker-2
[vzdump]
snapstate: prepare
--- boot config 112 yes
"""


def test_pct_lxc_reads_release_and_host_boot_config():
    state = PctLxc().process(PCT_LXC_OUTPUT.splitlines())
    assert (state["release"], state["host_has_boot_config"]) == ("6.8.12-4-pve", True)


def test_pct_lxc_keeps_each_conf_with_its_snapshot_sections():
    assert PctLxc().process(PCT_LXC_OUTPUT.splitlines())["confs"][112] == [
        "hostname: k3s-worker-2", "[vzdump]", "snapstate: prepare"]


def test_pct_lxc_knows_which_containers_lack_the_kernel_config():
    assert PctLxc().process(PCT_LXC_OUTPUT.splitlines())["boot_config_in_container"] == {111: False, 112: True}
