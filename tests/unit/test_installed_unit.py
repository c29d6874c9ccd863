"""Adopting an install.sh install: the installed unit's writer and ExecStart flags, read on the host,
and the unit source they lead to (``auto`` keeps a unit the deploy did not write)."""

from __future__ import annotations

import subprocess

import pytest
from pyinfra.context import ctx_host

from facts.installed_unit import InstalledK3sUnit
from tasks.k3s_units import unit_source
from tasks.settings import DeployDataError
from tests.unit.operation_outputs import FakeHost

# As k3s-io/k3s install.sh writes it (create_systemd_service_file), with flags given to the installer.
INSTALLER_UNIT = """[Unit]
Description=Lightweight Kubernetes
[Service]
Type=notify
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/systemd/system/k3s.service.env
KillMode=process
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStart=/usr/local/bin/k3s \\
    server \\
\t'--disable=traefik' \\
\t'--node-label=adopted=true' \\
\t'--token' 'do-not-leak' \\

"""


def read(tmp_path, text: str | None) -> dict:
    unit = tmp_path / "k3s.service"
    if text is not None:
        unit.write_text(text)
    command = InstalledK3sUnit().command(unit="k3s.service").replace("/etc/systemd/system/k3s.service", str(unit))
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    return {"output": done.stdout, "fact": InstalledK3sUnit().process(done.stdout.splitlines())}


def test_installer_unit_is_someone_elses_with_its_flag_names_only(tmp_path):
    found = read(tmp_path, INSTALLER_UNIT)
    assert (found["fact"], "do-not-leak" in found["output"]) == (
        {"writer": "other", "flags": ["--disable", "--node-label", "--token"]}, False)


def test_our_unit_is_the_deploys(tmp_path):
    assert read(tmp_path, "# Managed by k3s-lxc-resilience (deploy.py)\n[Service]\nExecStart=/usr/local/bin/k3s agent\n")[
        "fact"] == {"writer": "deploy", "flags": []}


def test_no_unit_is_none(tmp_path):
    assert read(tmp_path, None)["fact"] == {"writer": "none", "flags": []}


def source(installed: dict, chosen: str) -> str:
    with ctx_host.use(FakeHost({"InstalledK3sUnit": installed}, {"k3s_role": "server", "k3s_unit_source": chosen})):
        return unit_source()


@pytest.mark.parametrize(("writer", "expected"), [("other", "installer"), ("deploy", "deploy"), ("none", "deploy")])
def test_auto_adopts_only_a_unit_the_deploy_did_not_write(writer, expected):
    assert source({"writer": writer, "flags": []}, "auto") == expected


def test_deploy_over_an_installer_unit_with_flags_is_refused_naming_them():
    with pytest.raises(DeployDataError, match="field k3s_unit_source: deploy would replace k3s.service.*--disable --node-label"):
        source({"writer": "other", "flags": ["--disable", "--node-label"]}, "deploy")
