"""The stand-in's version is chosen when it is built: the zipapp built for the minor before reports
it in `k3s --version`, the API server's /version and its node's kubelet/kube-proxy versions, and
both binaries sit side by side under their own names."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest
import standin_build
import urllib3
from conftest import free_port, standin_environment, wait_for
from k3s_standin import DEFAULT_K3S_VERSION, release

OLDER = release.PREVIOUS_K3S_VERSION
NODE = "standin-older"


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("build")
    return {"default": standin_build.build_standin(directory=directory),
            "older": standin_build.build_standin(OLDER, directory)}


def test_each_version_has_its_own_file(binaries):
    assert binaries["default"].name == "k3s"
    assert binaries["older"].name == f"k3s-{OLDER}"


@pytest.mark.parametrize(("which", "version"), [("default", DEFAULT_K3S_VERSION), ("older", OLDER)])
def test_version_output_is_k3s_format(binaries, which, version):
    answer = subprocess.run([sys.executable, str(binaries[which]), "--version"], capture_output=True,
                            text=True, check=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert answer.stdout.splitlines() == [f"k3s version {version} ({release.GIT_COMMIT})",
                                          f"go version {release.GO_VERSION}"]


def test_the_same_sources_build_the_same_bytes(binaries, tmp_path):
    """`make lab-up` builds the stand-in every time; the inventories carry its sha256, so a build that
    differed by its time alone would make every deploy after it replace the binary and restart k3s."""
    time.sleep(2.1)  # a build stamped with its time would differ now (zip times have 2 s steps)
    again = standin_build.build_standin(directory=tmp_path)
    assert again.read_bytes() == binaries["default"].read_bytes()


def test_a_version_k3s_never_released_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a k3s release version"):
        standin_build.build_standin("1.30", tmp_path)


@pytest.fixture(scope="module")
def older_server(binaries: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`k3s server` run from the older zipapp (not from source), its own node registered."""
    directory = tmp_path_factory.mktemp("older")
    port = free_port()
    env = standin_environment(directory)
    env.pop("PYTHONPATH")
    command = [sys.executable, str(binaries["older"]), "server", "--config", str(directory / "none.yaml"),
               "--data-dir", str(directory / "data"), "--write-kubeconfig", str(directory / "k3s.yaml"),
               "--https-listen-port", str(port), "--bind-address", "127.0.0.1", "--node-ip", "127.0.0.1",
               "--node-name", NODE, "--disable-kube-proxy", "--flannel-backend=none", "--disable=servicelb",
               "--disable=traefik,coredns,metrics-server,local-storage", f"--kubelet-arg=port={free_port()}"]
    with open(directory / "k3s.log", "ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for("the older server's kubeconfig", lambda: (directory / "k3s.yaml").exists() or process.poll(), 30)
        assert process.poll() is None, (directory / "k3s.log").read_text()[-3000:]
        yield {"url": f"https://127.0.0.1:{port}", "kubeconfig": str(directory / "k3s.yaml"),
               "ca": str(directory / "data" / "server" / "tls" / "server-ca.crt")}
    finally:
        process.terminate()
        process.wait(timeout=15)
        time.sleep(0.2)


def test_apiserver_version_follows_the_build(older_server):
    """Asked with the admin kubeconfig: k3s's apiserver refuses anonymous requests (anonymous-auth=false)."""
    version = kubernetes.client.VersionApi(kubernetes.config.new_client_from_config(config_file=older_server["kubeconfig"]))

    def answered():
        try:
            return version.get_code()
        except (kubernetes.client.exceptions.ApiException, OSError, urllib3.exceptions.HTTPError):
            return None
    answer = wait_for("/version", answered)
    major, minor = OLDER.lstrip("v").split(".")[:2]
    assert (answer.git_version, answer.major, answer.minor) == (OLDER, major, minor)


def test_node_reports_the_built_version(older_server):
    core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=older_server["kubeconfig"]))

    def registered():
        try:
            return core.read_node(NODE).status.node_info
        except kubernetes.client.exceptions.ApiException:
            return None
    info = wait_for("the node to register", registered)
    assert (info.kubelet_version, info.kube_proxy_version) == (OLDER, OLDER)
