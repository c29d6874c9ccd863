"""Which containers host maintenance finds on a Proxmox node (the inventory's k3s hosts that node's
`pct list` shows, a migrated one where it is now), which HAProxy hosts are there, and the server it
runs from (the first one off that node)."""

from __future__ import annotations

from typing import Any

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import ctx_host, ctx_inventory, ctx_state

import tasks.host_maintenance as maintenance
from facts.pct import PctContainer
from tasks.host_maintenance_rules import Guest
from tasks.settings import DeployDataError

# The HA lab's layout (lab/topology.py): 101, 103, 111, 121 on node lab; 102, 112 on node lab2.
CONTAINERS = {"k3s-control": ("lab", 101, "server"), "k3s-control-2": ("lab2", 102, "server"),
              "k3s-control-3": ("lab", 103, "server"), "k3s-worker-1": ("lab", 111, "agent"),
              "k3s-worker-2": ("lab2", 112, "agent"), "haproxy": ("lab", 121, "")}


def row(name: str, status: str = "running") -> PctContainer:
    return PctContainer(vmid=CONTAINERS[name][1], status=status, lock="", name=name)


def host_data(name: str, pve: str) -> dict[str, Any]:
    node, vmid, role = CONTAINERS[name]
    data: dict[str, Any] = {"node_name": name, "pct_node": node, "pct_vmid": vmid, "maintenance_node": pve}
    return {**data, "k3s_role": role} if role else data


def survey_of(pve: str, lists: dict[str, list[PctContainer]], monkeypatch) -> maintenance.Survey:
    """The survey for maintenance of ``pve`` with these ``pct list`` rows per Proxmox node."""
    inventory = Inventory(
        ([(name, host_data(name, pve)) for name in CONTAINERS]
         + [(node, {"node_name": node, "maintenance_node": pve}) for node in ("lab", "lab2")], {}),
        k3s_control=(["k3s-control", "k3s-control-2", "k3s-control-3"], {}),
        k3s_workers=(["k3s-worker-1", "k3s-worker-2"], {}), haproxy=(["haproxy"], {}),
        proxmox_hosts=(["lab", "lab2"], {}))
    stopped = {item["name"] for rows in lists.values() for item in rows if item["status"] != "running"}
    for member in inventory:
        # pyinfra connected every host but those whose container is stopped (the pct connector refuses them).
        member.connected = member.name not in stopped
    facts = {inventory.get_host(node): {item["name"]: item for item in rows} for node, rows in lists.items()}
    monkeypatch.setattr(maintenance, "pct_lists", lambda: facts)
    maintenance.survey.cache_clear()
    with ctx_state.use(State(inventory, Config())), ctx_inventory.use(inventory), \
            ctx_host.use(inventory.get_host("k3s-control")):
        try:
            return maintenance.survey()
        finally:
            maintenance.survey.cache_clear()


@pytest.fixture
def as_built() -> dict[str, list[PctContainer]]:
    return {node: [row(name) for name, (where, _, _) in CONTAINERS.items() if where == node] for node in ("lab", "lab2")}


def test_the_containers_on_lab2_are_its_server_and_worker(as_built, monkeypatch):
    found = survey_of("lab2", as_built, monkeypatch)
    assert found.guests == [Guest("k3s-control-2", 102, "server"), Guest("k3s-worker-2", 112, "agent")]


def test_haproxy_on_node_lab_is_found(as_built, monkeypatch):
    assert survey_of("lab", as_built, monkeypatch).balancers_on_node == ["haproxy"]


def test_maintenance_runs_from_the_first_server_off_the_node(as_built, monkeypatch):
    assert survey_of("lab", as_built, monkeypatch).runner.name == "k3s-control-2"


def test_a_migrated_container_counts_where_it_is_now(as_built, monkeypatch):
    moved = {"lab": as_built["lab"] + [row("k3s-worker-2")], "lab2": [row("k3s-control-2")]}
    assert Guest("k3s-worker-2", 112, "agent") in survey_of("lab", moved, monkeypatch).guests
    assert survey_of("lab2", moved, monkeypatch).guests == [Guest("k3s-control-2", 102, "server")]


def test_a_stopped_container_is_listed_with_its_status(as_built, monkeypatch):
    stopped = {"lab": as_built["lab"], "lab2": [row("k3s-control-2"), row("k3s-worker-2", "stopped")]}
    assert survey_of("lab2", stopped, monkeypatch).status == {"k3s-control-2": "running", "k3s-worker-2": "stopped"}


def test_a_server_whose_container_is_stopped_is_not_the_runner(as_built, monkeypatch):
    stopped = {"lab": [row("k3s-control", "stopped")] + as_built["lab"][1:], "lab2": as_built["lab2"]}
    assert survey_of("lab2", stopped, monkeypatch).runner.name == "k3s-control-3"


def test_a_node_that_is_not_a_proxmox_host_is_refused_naming_the_field(as_built, monkeypatch):
    with pytest.raises(DeployDataError, match="field maintenance_node: pve9 is not a host of proxmox_hosts"):
        survey_of("pve9", as_built, monkeypatch)


def test_a_proxmox_host_that_does_not_answer_stops_the_run(as_built, monkeypatch):
    with pytest.raises(PyinfraError, match="lab2 does not answer"):
        survey_of("lab2", {"lab": as_built["lab"]}, monkeypatch)
