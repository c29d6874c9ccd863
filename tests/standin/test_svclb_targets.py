"""An svclb container in its shim forwards to the endpoints the kubelet wrote into the targets file."""

from __future__ import annotations

from pathlib import Path

from k3s_standin.node import svclb

POD = {"metadata": {"labels": {"svccontroller.k3s.cattle.io/svcname": "rancher",
                               "svccontroller.k3s.cattle.io/svcnamespace": "cattle-system"}},
       "spec": {"containers": [{"name": "lb-tcp-443", "env": [{"name": "SRC_PORT", "value": "443"}],
                                "ports": [{"containerPort": 443}]}]}}
SERVICE = {"spec": {"ports": [{"name": "https", "port": 443}]}}
ENDPOINTS = {"subsets": [{"addresses": [{"ip": "10.42.2.5"}, {"ip": "10.42.1.5"}], "ports": [{"name": "https", "port": 443}]}]}


def test_targets_are_the_ready_endpoints_per_src_port() -> None:
    assert svclb.targets(POD, SERVICE, ENDPOINTS) == {"443": [("10.42.1.5", 443), ("10.42.2.5", 443)]}


def test_container_rotates_over_the_targets_file(tmp_path: Path) -> None:
    targets = tmp_path / "targets.json"
    svclb.write_targets(str(targets), svclb.targets(POD, SERVICE, ENDPOINTS))
    container = svclb.SvclbContainer(POD["spec"]["containers"][0], str(targets))
    assert [container.target(), container.target()] == [("10.42.1.5", 443), ("10.42.2.5", 443)]


def test_no_targets_file_means_no_target(tmp_path: Path) -> None:
    assert svclb.SvclbContainer(POD["spec"]["containers"][0], str(tmp_path / "missing.json")).target() is None
