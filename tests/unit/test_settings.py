"""tasks.settings: one table of every host data key; typed readers; unknown keys refused on load."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_host, ctx_inventory, ctx_state

from inventory_schema import InventoryError, load_inventory
from tasks.settings import (
    SETTINGS,
    DeployDataError,
    Kind,
    check_command_line_data,
    flag,
    node_names,
    one_of,
    seconds,
    time_span,
    value,
    whole_number,
)
from tasks.settings_docs import DOCS, with_tables

REPO = Path(__file__).resolve().parents[2]
CLUSTER = {
    "k3s_control": [{"name": "k3s-control", "ssh": {"host": "192.0.2.101"}, "node_ip": "192.0.2.101"}],
    "k3s_workers": [{"name": "k3s-worker-1", "ssh": {"host": "192.0.2.111"}, "node_ip": "192.0.2.111"}],
}


@contextmanager
def on_host(data: dict[str, Any], control_data: dict[str, Any] | None = None) -> Iterator[None]:
    """The readers' host context: ``data`` on a worker, ``control_data`` on the control node."""
    names_data = [("k3s-worker-1", {"node_name": "k3s-worker-1", **data}),
                  ("k3s-control", {"node_name": "k3s-control", **(control_data or {})})]
    pyinfra_inventory = Inventory((names_data, {}), k3s_control=(["k3s-control"], {}))
    state = State(pyinfra_inventory, Config())
    with ctx_state.use(state), ctx_inventory.use(pyinfra_inventory), ctx_host.use(pyinfra_inventory.get_host("k3s-worker-1")):
        yield


def read(reader, key: str, data: dict[str, Any], **arguments: Any) -> Any:
    with on_host(data):
        return reader(key, **arguments)


def problem(reader, key: str, data: dict[str, Any], **arguments: Any) -> str:
    with on_host(data), pytest.raises(DeployDataError) as error:
        reader(key, **arguments)
    return str(error.value)


def load(tmp_path: Path, inventory: dict[str, Any]) -> str:
    path = tmp_path / "cluster.yml"
    path.write_text(yaml.safe_dump({**CLUSTER, **inventory}))
    with pytest.raises(InventoryError) as error:
        load_inventory(path)
    return str(error.value)


def test_docs_tables_are_the_table() -> None:
    assert DOCS.read_text() == with_tables(DOCS.read_text())


def test_unset_key_reads_its_default() -> None:
    assert read(seconds, "restart_timeout", {}) == 300


def test_flag_takes_the_words_of_data_on_the_command_line() -> None:
    assert read(flag, "restart_serial", {"restart_serial": "no"}) is False


def test_flag_refuses_other_words_naming_host_and_field() -> None:
    assert problem(flag, "preflight_continue", {"preflight_continue": "maybe"}) == \
        "deploy: host k3s-worker-1: field preflight_continue: 'maybe' is not true or false"


def test_whole_number_is_bounded_by_the_table() -> None:
    assert problem(whole_number, "repair_max_unhealthy_percent", {"repair_max_unhealthy_percent": 101}) == \
        "deploy: host k3s-worker-1: field repair_max_unhealthy_percent: 101 is not between 0 and 100"


def test_choice_names_the_allowed_values() -> None:
    assert problem(one_of, "k3s_unit_source", {"k3s_unit_source": "rpm"}) == \
        "deploy: host k3s-worker-1: field k3s_unit_source: 'rpm' is not one of auto, deploy, installer"


def test_time_span_refuses_words() -> None:
    assert problem(time_span, "watcher_interval", {"watcher_interval": "soon"}).endswith(
        "field watcher_interval: 'soon' is not a systemd time span such as 2min or 90s")


def test_node_names_split_a_comma_separated_list() -> None:
    assert read(node_names, "repair_nodes", {"repair_nodes": "k3s-worker-1, k3s-worker-2"}) == \
        ["k3s-worker-1", "k3s-worker-2"]


def test_node_names_unset_are_every_node() -> None:
    assert read(node_names, "restart_nodes", {}, every=["k3s-control", "k3s-worker-1"]) == \
        ["k3s-control", "k3s-worker-1"]


def test_node_names_outside_the_inventory_are_refused() -> None:
    assert problem(node_names, "restart_nodes", {"restart_nodes": "k3s-worker-9"}, every=["k3s-control"]).endswith(
        "field restart_nodes: k3s-worker-9 not among the k3s nodes k3s-control")


def test_cluster_setting_falls_back_to_the_first_control_node() -> None:
    with on_host({}, control_data={"repair_max_nodes": 2}):
        assert whole_number("repair_max_nodes") == 2


def test_misspelt_host_key_is_refused_on_load_with_a_suggestion(tmp_path: Path) -> None:
    inventory = {"k3s_control": [{**CLUSTER["k3s_control"][0], "data": {"watcher_intervall": "30s"}}]}
    assert load(tmp_path, inventory) == \
        "inventory: host k3s-control: field data.watcher_intervall: unknown setting (did you mean watcher_interval?)"


def test_unknown_cluster_key_is_refused_on_load(tmp_path: Path) -> None:
    assert load(tmp_path, {"data": {"colour": "blue"}}) == "inventory: field data.colour: unknown setting"


def test_key_the_inventory_sets_is_refused_in_data(tmp_path: Path) -> None:
    assert load(tmp_path, {"data": {"node_ip": "192.0.2.9"}}) == \
        "inventory: field data.node_ip: set by the inventory from the host's entry"


def test_value_as_written_for_haproxy_to_judge() -> None:
    assert read(value, "haproxy_check_inter", {"haproxy_check_inter": "2 seconds"}) == "2 seconds"


def test_misspelt_command_line_key_is_refused() -> None:
    pyinfra_inventory = Inventory(([("k3s-control", {})], {}), override_data={"restart_mod": "container"})
    with ctx_inventory.use(pyinfra_inventory), pytest.raises(DeployDataError) as error:
        check_command_line_data()
    assert str(error.value) == "deploy: field restart_mod (--data): unknown setting (did you mean restart_mode?)"


def test_connection_data_on_the_command_line_is_pyinfras() -> None:
    pyinfra_inventory = Inventory(([("k3s-control", {})], {}), override_data={"ssh_user": "root", "restart_serial": False})
    with ctx_inventory.use(pyinfra_inventory):
        check_command_line_data()


READERS = {Kind.FLAG: flag, Kind.SECONDS: seconds, Kind.WHOLE_NUMBER: whole_number, Kind.CHOICE: one_of,
           Kind.TIME_SPAN: time_span}


@pytest.mark.parametrize("key", sorted(key for key, setting in SETTINGS.items()
                                       if setting.kind in READERS and setting.default is not None))
def test_every_default_is_a_value_its_reader_accepts(key: str) -> None:
    assert read(READERS[SETTINGS[key].kind], key, {}) == SETTINGS[key].default


def test_every_key_the_product_reads_is_in_the_table() -> None:
    calls = re.compile(r"\b(?:value|flag|seconds|whole_number|one_of|time_span|node_names|mapping|path|url|"
                       r"required_text|data_error)\(\s*\"([a-z0-9_]+)\"")
    sources = [*REPO.glob("tasks/**/*.py"), REPO / "deploy.py"]
    read_keys = {key for source in sources for key in calls.findall(source.read_text())}
    assert sorted(read_keys - set(SETTINGS)) == []
