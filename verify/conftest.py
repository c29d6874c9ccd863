"""Hosts, roles and cluster fixtures for verify/, and the summary table printed at the end.

    pytest verify/ --inventory lab/inventory-ssh.yml --junitxml verify/junit.xml
    pytest verify/ --hosts=ssh://root@10.0.0.101,pct://111@pve1 --rancher-hostname rancher.example.net
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import kubernetes
import pytest
import testinfra.backend
import urllib3

from inventory_schema import InventoryError
from verify.host_facts import Gathered, gather_all
from verify.kube import KUBECONFIG, write_kubeconfig
from verify.targets import AGENT, HAPROXY, SERVER, Cluster, Target, cluster_from_hostspecs, cluster_from_inventory

testinfra.backend.BACKENDS["pct"] = "connectors.pct_testinfra.PctBackend"
# Rancher's self-signed certificate is expected (see verify/rancher.py); one warning per request is noise.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

ROLE_FIXTURES = {
    "k3s_node": (SERVER, AGENT),
    "control_node": (SERVER,),
    "haproxy_node": (HAPROXY,),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("k3s verify")
    group.addoption(
        "--inventory",
        default=os.environ.get("K3S_INVENTORY"),
        help="inventory YAML to take hosts, roles and addresses from (default: env K3S_INVENTORY)",
    )
    group.addoption(
        "--rancher-hostname",
        default=os.environ.get("RANCHER_HOSTNAME"),
        help="Rancher hostname HAProxy serves, with --hosts (the inventory's rancher_hostname wins)",
    )


def load_cluster(config: pytest.Config) -> Cluster:
    """The cluster named by ``--hosts`` (roles probed) or else by ``--inventory``; loaded once."""
    cached = config.stash.get(CLUSTER_KEY, None)
    if cached is not None:
        return cached
    try:
        if config.option.hosts:
            cluster = cluster_from_hostspecs(
                config.option.hosts.split(","),
                config.option.rancher_hostname,
                ssh_config=config.option.ssh_config,
                ssh_identity_file=config.option.ssh_identity_file,
            )
        elif config.option.inventory:
            cluster = cluster_from_inventory(config.option.inventory)
        else:
            raise pytest.UsageError("verify: pass --inventory <yaml> (or env K3S_INVENTORY) or --hosts=<specs>")
    except (RuntimeError, InventoryError) as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[CLUSTER_KEY] = cluster
    return cluster


CLUSTER_KEY = pytest.StashKey[Cluster]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ha: checks of several k3s servers (embedded etcd), collected only for them")
    # Bad hosts or inventory stop the run here with one line, before any test is collected.
    load_cluster(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A lone server has no etcd members nor API behind HAProxy: its ``ha`` checks are not run."""
    if len(load_cluster(config).with_role(SERVER)) > 1:
        return
    deselected = [item for item in items if item.get_closest_marker("ha")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("ha")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cluster = load_cluster(metafunc.config)
    for fixture, roles in ROLE_FIXTURES.items():
        if fixture in metafunc.fixturenames:
            targets = cluster.with_role(*roles)
            metafunc.parametrize(fixture, targets, ids=[target.name for target in targets], scope="module")
    if "node_name" in metafunc.fixturenames:
        names = [target.name for target in cluster.with_role(SERVER, AGENT)]
        metafunc.parametrize("node_name", names, ids=names)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Cluster:
    """Every host verify/ knows about, with roles and addresses."""
    return load_cluster(request.config)


@pytest.fixture(scope="session")
def control(cluster: Cluster) -> Target:
    """The first control node."""
    return cluster.control


@pytest.fixture(scope="session")
def gathered(cluster: Cluster) -> Gathered:
    """What every host shows, read once per run: one round trip per host, all hosts at once."""
    return gather_all(cluster)


@pytest.fixture(scope="session")
def kubeconfig_path(control: Target, gathered: Gathered) -> Iterator[str]:
    """The control node's kubeconfig, server rewritten to its node address, in a private 0600 file."""
    facts = gathered.of(control).facts
    if "kubeconfig" not in facts:
        pytest.fail(f"cannot read {KUBECONFIG} on {control.name} ({facts.get('kubeconfig_error', '')}): "
                    "is k3s installed and started?")
    with tempfile.TemporaryDirectory(prefix="k3s-verify-") as directory:
        yield write_kubeconfig(facts["kubeconfig"], control.address, directory)


@pytest.fixture(scope="session")
def core_api(kubeconfig_path: str) -> kubernetes.client.CoreV1Api:
    """The Kubernetes core API of the cluster."""
    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=kubeconfig_path))


@contextmanager
def api_answering(control: Target) -> Iterator[None]:
    """Turn an unreachable or refusing Kubernetes API into one line naming the control node."""
    try:
        yield
    except (urllib3.exceptions.HTTPError, kubernetes.client.ApiException) as error:
        pytest.fail(
            f"Kubernetes API of {control.name} ({control.address}) failed ({type(error).__name__}): "
            f"check {control.k3s_unit} there (journalctl -u {control.k3s_unit})",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def cluster_nodes(core_api: kubernetes.client.CoreV1Api, control: Target) -> dict[str, kubernetes.client.V1Node]:
    """The registered nodes by name, listed once per run."""
    with api_answering(control):
        return {node.metadata.name: node for node in core_api.list_node().items}


@pytest.fixture(scope="session")
def all_pods(core_api: kubernetes.client.CoreV1Api, control: Target) -> list[kubernetes.client.V1Pod]:
    """Every pod of the cluster, listed once per run."""
    with api_answering(control):
        return core_api.list_pod_for_all_namespaces().items


@pytest.fixture(scope="session")
def rancher_hostname(cluster: Cluster) -> str:
    """The hostname HAProxy serves Rancher on."""
    if not cluster.rancher_hostname:
        pytest.fail("no Rancher hostname: set rancher_hostname in the inventory data or pass --rancher-hostname")
    return cluster.rancher_hostname


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """One row per check: result, test, host or node, and the one-line reason of a failure."""
    reports = [
        report
        for outcome in ("passed", "failed", "error", "skipped")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", None) in ("setup", "call") and (report.when == "call" or not report.passed)
    ]
    if not reports:
        return
    terminalreporter.section("verify summary")
    for report in sorted(reports, key=lambda report: report.nodeid):
        terminalreporter.write_line(summary_row(report))


def summary_row(report: pytest.TestReport) -> str:
    """``RESULT  test  [host]  reason`` for one report."""
    name, _, param = report.nodeid.rpartition("::")[2].partition("[")
    result = "ERROR" if report.when == "setup" and report.failed else report.outcome.upper()
    reason = "" if report.passed else failure_line(report)
    return f"{result:<8} {name:<52} {param.rstrip(']') or '-':<18} {reason}".rstrip()


def failure_line(report: pytest.TestReport) -> str:
    """The first line of the failure's message (the assert message says what to do)."""
    if isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
        return report.longrepr[2].removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash else str(report.longrepr)
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first.removeprefix("AssertionError: ").removeprefix("Failed: ")
