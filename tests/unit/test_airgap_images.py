"""Air-gapped images: references as containerd names them, the archives pushed to every node, and the
check that each chart image is on the node."""

from __future__ import annotations

import hashlib

import pytest
from pyinfra.api.exceptions import OperationError
from pyinfra.context import ctx_host

from tasks.airgap_images import archives, image_archives_present, images_present, normalized
from tasks.settings import DeployDataError
from tests.unit.operation_outputs import FakeHost, host_state, run

HELD = ("docker.io/rancher/klipper-helm:v0.9.3-build20241008", "docker.io/rancher/rancher:v2.10.1")


@pytest.mark.parametrize("reference,name", [
    ("rancher/rancher:v2.10.1", "docker.io/rancher/rancher:v2.10.1"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox:1.36", "docker.io/library/busybox:1.36"),
    ("docker.io/rancher/rancher:v2.10.1", "docker.io/rancher/rancher:v2.10.1"),
    ("mirror.example.net/rancher/rancher:v2.10.1", "mirror.example.net/rancher/rancher:v2.10.1"),
    ("mirror.example.net:5000/rancher/rancher:v2.10.1", "mirror.example.net:5000/rancher/rancher:v2.10.1"),
    ("localhost/rancher:dev", "localhost/rancher:dev"),
    ("rancher/rancher@sha256:" + "a" * 64, "docker.io/rancher/rancher@sha256:" + "a" * 64),
])
def test_references_are_normalized_as_containerd_lists_them(reference, name):
    assert normalized(reference) == name


def test_images_on_the_node_pass():
    commands, host = run(images_present, facts={"NodeImages": HELD}, images=["rancher/rancher:v2.10.1"])
    assert (commands, host.noop_description) == ([], "1 chart images are on this node")


def test_a_missing_image_fails_the_host_naming_it_and_the_fix():
    with pytest.raises(OperationError) as error:
        run(images_present, facts={"NodeImages": HELD},
            images=["jetstack/cert-manager-controller:v1.16.2", "jetstack/cert-manager-webhook:v1.16.2"])
    assert str(error.value) == (
        "deploy: host k3s-worker-1: field k3s_image_archives: image docker.io/jetstack/cert-manager-controller:v1.16.2 "
        "(and 1 more) is not on this node (k3s ctr images ls) and no k3s_registries mirror is set: add the archive "
        "that holds it")


def test_a_registry_mirror_is_trusted():
    registries = {"mirrors": {"docker.io": {"endpoint": ["https://mirror.example.net"]}}}
    commands, host = run(images_present, facts={}, data={"k3s_registries": registries}, images=["rancher/rancher:v9"])
    assert (commands, host.noop_description) == ([], "images come from the registries in k3s_registries")


def archive_problem(listed: object) -> str:
    with ctx_host.use(FakeHost({}, {"node_name": "k3s-worker-1", "k3s_image_archives": listed})), \
            pytest.raises(DeployDataError) as error:
        archives()
    return str(error.value)


def test_archives_must_be_a_list():
    assert archive_problem("images.tar").endswith("must be a list of paths, got str")


def test_an_archive_k3s_does_not_import_is_refused(tmp_path):
    (tmp_path / "images.zip").write_bytes(b"")
    assert "images.zip: k3s imports .tar, .tar.zst" in archive_problem([str(tmp_path / "images.zip")])


def test_a_missing_archive_is_refused(tmp_path):
    assert archive_problem([str(tmp_path / "absent.tar.zst")]).endswith(f"no such file: {tmp_path / 'absent.tar.zst'}")


def test_a_changed_archive_is_staged_then_renamed(tmp_path):
    archive = tmp_path / "rancher-images.tar"
    archive.write_bytes(b"layers")
    target = "/var/lib/rancher/k3s/agent/images/rancher-images.tar"
    commands, _ = run(image_archives_present, facts=host_state(files={target: {"sha256": "0" * 64, "mode": "644"}}),
                      archives=[archive])
    staged = "/var/lib/rancher/k3s/agent/images/.rancher-images.tar.new"
    assert commands == ["mkdir -p /var/lib/rancher/k3s/agent/images", ["upload", str(archive), staged],
                        f"chmod 644 {staged} && mv -f {staged} {target}"]


def test_an_archive_in_place_is_a_noop(tmp_path):
    archive = tmp_path / "rancher-images.tar"
    archive.write_bytes(b"layers, same")
    target = "/var/lib/rancher/k3s/agent/images/rancher-images.tar"
    present = {target: {"sha256": hashlib.sha256(b"layers, same").hexdigest(), "mode": "644"}}
    commands, host = run(image_archives_present, facts=host_state(files=present), archives=[archive])
    assert (commands, host.noop_description) == ([], "1 image archives are in place")
