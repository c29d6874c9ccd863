"""deploy.py run by pyinfra itself, twice, against a simulated cluster (nothing connects anywhere):
the fresh run converges it, and the no-op re-run changes nothing and reads each host in as few
round trips as issue 15 asks for: one fact per host for the state the deploy manages, one read
before the deploy on each k3s host, one cluster read on the waiting control node, HAProxy's stats;
all but the reads before the deploy in one operation (facts.read_ahead), so two round trips in a row.

The world answers each fact from what the simulated hosts hold (files as uploaded and moved, units
started, packages installed) and takes the cluster as the lab's converged one (nodes Ready, the
charts installed and answering); every command succeeds, waits return at once.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyinfra
import pytest
import yaml
from pyinfra.api import Config, FunctionCommand, Inventory, State
from pyinfra.api import facts as pyinfra_facts
from pyinfra.api import host as pyinfra_host
from pyinfra.api.connect import connect_all
from pyinfra.api.operations import run_ops
from pyinfra.api.state import StateStage
from pyinfra.connectors.util import CommandOutput
from pyinfra.context import ctx_config, ctx_host, ctx_inventory, ctx_state

from facts.chart_status import section_texts
from facts.host_before import HostBefore
from facts.rancher import rancher_status
from facts.rancher_tls import tls_objects
from inventory_schema import load_inventory
from tasks.airgap_images import normalized
from tasks.cert_manager import DEPLOYMENTS, status
from tasks.haproxy import critical_servers
from tasks.k3s_ready import RESTARTED_AT
from tasks.k3s_units import K3S_INPUT_OPERATIONS
from tasks.rancher import LEGACY_PART, STATUS_PART, TLS_PART, chart_images
from tests.unit.chart_archives import chart_archive
from tests.unit.kube_objects import chart_output, deployment, helm_job, pod

REPO = Path(__file__).resolve().parents[2]
PREFLIGHT = (REPO / "tests/unit/fixtures/preflight/vm-ext4-v2-healthy.txt").read_text().splitlines()


def ready_chart(chart: str, deployments: list[str], extra: dict[str, str]) -> dict[str, str]:
    ready = {"workload": [*(deployment(name) for name in deployments), pod(f"{chart}-1")],
             "helmchart": {"jobName": f"helm-install-{chart}"}, "job": [helm_job(chart, complete=True)]}
    return section_texts(chart_output(chart, extra=extra, **ready))


CLUSTER = {
    "cert-manager": {**ready_chart("cert-manager", DEPLOYMENTS, {}),
                     "dryrun": "issuer.cert-manager.io/k3s-lxc-resilience-webhook-check created (server dry run)"},
    STATUS_PART: ready_chart("rancher", ["rancher"], {"ping": "pong"}),
    LEGACY_PART: {"object": ""},
    TLS_PART: {"api": "ok", "ingress": "QUJD\n" + json.dumps({"cert-manager.io/certificate-name": "tls-rancher-ingress"}),
               "ca": "", "certificate": "tls-rancher-ingress"},
}


class World:
    """What the simulated hosts hold, and every fact read (node name, fact class name)."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, tuple[bytes, str]]] = collections.defaultdict(dict)
        self.units: dict[str, set[str]] = collections.defaultdict(set)
        self.packages: dict[str, set[str]] = collections.defaultdict(lambda: {"python3"})
        self.reads: list[tuple[str, str]] = []
        # per read: how many operations of the run had completed on any host (when in the run it was)
        self.moments: list[int] = []

    def images(self, target: Any) -> tuple[str, ...]:
        with ctx_host.use(target):
            return tuple(sorted(normalized(image) for image in chart_images())) if self.units[target.name] else ()

    def fact(self, target: Any, name: str, arguments: dict[str, Any]) -> Any:
        self.reads.append((target.data.get("node_name") or target.name, name))
        self.moments.append(sum(data.operation_meta.is_complete() for ops in target.state.ops.values()
                                for data in ops.values()))
        files, units = self.files[target.name], self.units[target.name]
        if name == "HostBefore":
            installed = {"writer": "deploy" if units else "none", "flags": []}
            return HostBefore().process([*PREFLIGHT, "--- installed unit", json.dumps(installed),
                                         "--- bootstrapped token", "none", "--- images", *self.images(target)])
        if name == "ManagedState":
            return {"files": {path: {"mode": files[path][1], "sha256": hashlib.sha256(files[path][0]).hexdigest()}
                              if path in files else None for path in arguments["paths"]},
                    "units": {unit: {"LoadState": ["loaded"], "ActiveState": ["active"], "UnitFileState": ["enabled"]}
                              if unit in units else {"LoadState": ["not-found"]} for unit in arguments["units"]},
                    "packages": {package: True for package in arguments["packages"] if package in self.packages[target.name]}}
        answers = {
            "TmpDir": lambda: "/tmp",
            "ClusterNodes": lambda: {node: {"name": node, "ready": "True"} for node in self.nodes(target)},
            "NodeImages": lambda: self.images(target),
            "ClusterReads": lambda: {part: self.cluster(target)[part] for part in arguments["parts"]},
            "CertManagerStatus": lambda: status(CLUSTER["cert-manager"]),
            "RancherStatus": lambda: rancher_status(CLUSTER[STATUS_PART]),
            "RancherTlsObjects": lambda: tls_objects(CLUSTER[TLS_PART]),
            "KubeObjectExists": lambda: False,
            "HaproxyServerStats": lambda: self.stats(target),
            "ProxmoxLxc": lambda: {"confs": {vmid: ["arch: amd64"] for vmid in arguments["vmids"]},
                                   "modules": {"overlay": True, "br_netfilter": True}},
            "File": lambda: None,
        }
        return answers[name]()

    @staticmethod
    def nodes(target: Any) -> list[str]:
        """Every k3s host of the inventory is a Ready node."""
        return [member.data.node_name for member in target.state.inventory if member.data.get("k3s_role")]

    def cluster(self, target: Any) -> dict[str, dict[str, str]]:
        return {**CLUSTER, "nodes": {"nodes": "\n".join(f"{name}\tTrue\t" for name in self.nodes(target))}}

    def stats(self, target: Any) -> dict[str, Any]:
        with ctx_host.use(target):
            expected = critical_servers()
        return {backend: {server: {"status": "UP", "check_status": "L7OK", "addr": addr} for server, addr in servers.items()}
                for backend, servers in expected.items()}

    def run(self, target: Any, text: str) -> None:
        """What a command does to the host: staged files moved into place, modes, units, packages."""
        files = self.files[target.name]
        if "install -m 600 /dev/null" in text:
            files[text.split()[-1]] = (b"", "600")
        for mode, path in re.findall(r"chmod (\d+) (\S+)", text):
            if path in files:
                files[path] = (files[path][0], mode)
        for staged, path in re.findall(r"mv -f (\S+) (\S+)", text):
            if staged in files:
                files[path] = files.pop(staged)
        for unit in re.findall(r"systemctl (?:restart|start|enable)(?: --no-block| --now)? (\S+)", text):
            self.units[target.name] |= {unit, unit.replace(".timer", ".service")}
        if "apt-get install" in text:
            self.packages[target.name] |= set(text.split("-qq")[-1].split())


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    simulated = World()

    def get_fact(state: State, target: Any, cls: type, args: Any = None, kwargs: Any = None, **_: Any) -> Any:
        return simulated.fact(target, cls.__name__, kwargs or {})

    def run_shell_command(target: Any, command: Any, **_: Any) -> tuple[bool, CommandOutput]:
        simulated.run(target, command.get_raw_value() if hasattr(command, "get_raw_value") else str(command))
        return True, CommandOutput([])

    def put_file(target: Any, source: Any, dest: str, **_: Any) -> bool:
        data = source.getvalue() if hasattr(source, "getvalue") else Path(source).read_bytes()
        simulated.files[target.name][dest] = (data, "644")
        return True

    monkeypatch.setattr(pyinfra_host, "get_fact", get_fact)
    monkeypatch.setattr(pyinfra_facts, "get_fact", get_fact)
    monkeypatch.setattr(pyinfra_host.Host, "run_shell_command", run_shell_command)
    monkeypatch.setattr(pyinfra_host.Host, "put_file", put_file)
    monkeypatch.setattr(pyinfra_host.Host, "connect", lambda target, *_, **__: setattr(target, "connected", True))
    monkeypatch.setattr(FunctionCommand, "execute", lambda *_: True)
    monkeypatch.setattr(pyinfra, "is_cli", True)
    yield simulated
    K3S_INPUT_OPERATIONS.clear()
    RESTARTED_AT.clear()


@pytest.fixture(params=["ssh", "pct", "ha"])
def cluster_file(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The lab's cluster: one server, two workers, HAProxy, each reached over SSH or through ``pct`` on a
    Proxmox node (``lab``, this machine, and ``lab2``, over SSH), or over SSH with three servers (``ha``);
    air-gapped inputs as files here."""
    binary, archive = tmp_path / "k3s", tmp_path / "images.tar"
    binary.write_bytes(b"k3s stand-in\n")
    archive.write_bytes(b"images\n")
    rancher = chart_archive(tmp_path, "rancher", "2.10.1", kube_version="< 1.32.0-0", app_version="v2.10.1")
    cert_manager = chart_archive(tmp_path, "cert-manager", "v1.16.2", app_version="v1.16.2")
    secrets = tmp_path / "secrets.yml"
    secrets.touch(mode=0o600)
    secrets.write_text(yaml.safe_dump({"k3s_token": "s3cret-token", "rancher_bootstrap_password": "b00tstrap-passw0rd"}))

    def host(name: str, address: str) -> dict[str, Any]:
        if request.param == "pct":
            vmid = int(address.rsplit(".", 1)[1])
            return {"name": name, "node_ip": address, "pct": {"node": "lab" if vmid % 2 else "lab2", "vmid": vmid}}
        return {"name": name, "node_ip": address, "ssh": {"host": address}}

    raw = {
        "data": {"k3s_version": "v1.31.4+k3s1", "k3s_binary_src": str(binary),
                 "k3s_sha256": hashlib.sha256(binary.read_bytes()).hexdigest(), "k3s_image_archives": [str(archive)],
                 "rancher_hostname": "rancher.lab.test",
                 "rancher": {"hostname": "rancher.lab.test", "replicas": 1, "chart_file": str(rancher)},
                 "cert_manager": {"chart_file": str(cert_manager)}},
        "secrets_file": secrets.name,
        "k3s_control": [host("k3s-control", "192.0.2.101")] + ([host("k3s-control-2", "192.0.2.102"),
                                                                 host("k3s-control-3", "192.0.2.103")]
                                                                if request.param == "ha" else []),
        "k3s_workers": [host("k3s-worker-1", "192.0.2.111"), host("k3s-worker-2", "192.0.2.112")],
        "haproxy": [host("haproxy", "192.0.2.121")],
    }
    if request.param == "pct":
        raw["proxmox_hosts"] = [{"name": "lab", "local": True}, {"name": "lab2", "ssh": {"host": "127.0.0.1"}}]
    path = tmp_path / "cluster.yml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("K3S_INVENTORY", str(path))
    return path


def load_deploy_file(state: State, filename: str) -> None:
    """What ``pyinfra_cli.util.load_deploy_file`` does, host by host where it spawns a greenlet per
    host, without importing ``pyinfra_cli``: that import runs gevent's ``monkey.patch_all()``, which
    stalls the pytest-xdist worker running this module (`make test` runs three)."""
    code = compile(Path(filename).read_text(encoding="utf-8"), filename, "exec")
    state.current_deploy_filename = filename
    for target in state.inventory.get_active_hosts():
        with ctx_config.use(state.config.copy()), ctx_host.use(target):
            state.current_exec_filename = filename
            exec(code, {"__file__": filename})  # noqa: S102 - the deploy file, as pyinfra runs it


def deploy(cluster: Path) -> State:
    """deploy.py as ``pyinfra -y inventory.py deploy.py`` runs it (one run per process: its records cleared)."""
    K3S_INPUT_OPERATIONS.clear()
    RESTARTED_AT.clear()
    loaded = load_inventory(cluster)
    groups: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for member in loaded.hosts:
        for group in member.groups:
            groups.setdefault(group, ([], {}))[0].append(member.pyinfra_name)
    inventory = Inventory(([(member.pyinfra_name, dict(member.data)) for member in loaded.hosts], {}), **groups)
    state = State(inventory, Config(), check_for_changes=False)
    with ctx_state.use(state), ctx_inventory.use(inventory), ctx_config.use(state.config.copy()):
        state.current_stage = StateStage.Connect
        connect_all(state)
        state.current_stage = StateStage.Prepare
        state.current_op_file_number = 0
        load_deploy_file(state, str(REPO / "deploy.py"))
        state.current_stage = StateStage.Execute
        run_ops(state)
    return state


def changed_operations(state: State) -> list[tuple[str, str]]:
    return sorted((target.name, ", ".join(sorted(state.op_meta[op_hash].names)))
                  for target in state.inventory for op_hash, data in state.ops[target].items()
                  if data.operation_meta.did_change())


def reads_per_host(world: World) -> dict[str, list[str]]:
    found: dict[str, list[str]] = collections.defaultdict(list)
    for name, fact in world.reads:
        found[name].append(fact)
    return {name: sorted(facts) for name, facts in found.items()}


def test_the_no_op_rerun_changes_nothing_and_reads_each_container_two_or_three_times(world: World, cluster_file: Path):
    fresh = deploy(cluster_file)
    assert changed_operations(fresh) and not fresh.failed_hosts
    world.reads.clear()
    world.moments.clear()
    again = deploy(cluster_file)
    assert (changed_operations(again), again.failed_hosts) == ([], set())
    servers = {f"k3s-control-{index}": ["HostBefore", "ManagedState"] for index in (2, 3)} \
        if "k3s-control-2" in cluster_file.read_text() else {}
    containers = {
        "haproxy": ["HaproxyServerStats", "ManagedState"],
        "k3s-control": ["ClusterReads", "HostBefore", "ManagedState"],
        "k3s-worker-1": ["HostBefore", "ManagedState"],
        "k3s-worker-2": ["HostBefore", "ManagedState"],
    }
    # the Proxmox nodes' preflight, and on this machine the check that no repair timer is left installed
    nodes = {"lab": ["File", "File", "ProxmoxLxc"], "lab2": ["ProxmoxLxc"]} if "proxmox_hosts" in \
        cluster_file.read_text() else {}
    assert reads_per_host(world) == {**containers, **servers, **nodes}
    # every read once the run executes in the same operation (HAProxy's first): one round trip for them all
    assert len({moment for (_, fact), moment in zip(world.reads, world.moments, strict=True)
                if fact in ("ManagedState", "ClusterReads", "HaproxyServerStats")}) == 1
