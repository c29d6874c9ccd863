"""The node's image store: archives in both layouts imported at start, names normalized, digests
checked, the conditional import cache, and `k3s ctr images ls` / `k3s crictl images` listing it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import images
from conftest import REPO
from k3s_standin.node.image_store import ArchiveError, ImageStore, normalize

BUSYBOX = "docker.io/rancher/mirrored-library-busybox:1.36.1"
RANCHER = "docker.io/rancher/rancher:v2.10.1"


def store_with(tmp_path: Path, name: str, references: list[str], layout: str) -> ImageStore:
    images.write_archive(tmp_path / "agent" / "images" / name, references, layout)
    store = ImageStore(str(tmp_path))
    store.preload()
    return store


def test_oci_zstd_and_docker_archives_are_imported(tmp_path: Path) -> None:
    images.write_archive(tmp_path / "agent" / "images" / "k3s-airgap-images-amd64.tar.zst", [BUSYBOX], images.OCI)
    store = store_with(tmp_path, "rancher-images.tar", [RANCHER], images.DOCKER)
    assert [image["name"] for image in store.list()] == [BUSYBOX, RANCHER]
    assert store.has("rancher/rancher:v2.10.1") and not store.has("rancher/rancher:v2.9.3")


def test_store_persists_and_blobs_are_content_addressed(tmp_path: Path) -> None:
    store_with(tmp_path, "a.tar", [BUSYBOX], images.OCI)
    (tmp_path / "agent" / "images" / "a.tar").unlink()
    again = ImageStore(str(tmp_path))
    again.preload()
    assert again.has(BUSYBOX)
    blobs = Path(again.content)
    assert blobs.is_dir() and all(f"sha256:{p.name}" == images.digest(p.read_bytes()) for p in blobs.iterdir())


def test_references_normalize_as_containerd_names_them() -> None:
    assert normalize("busybox") == "docker.io/library/busybox:latest"
    assert normalize("rancher/rancher:v2.10.1") == RANCHER
    assert normalize("jetstack/cert-manager-controller:v1.16.2") == "docker.io/jetstack/cert-manager-controller:v1.16.2"
    assert normalize("registry.lab:5000/x/y:1") == "registry.lab:5000/x/y:1"


def test_a_wrong_digest_is_refused(tmp_path: Path) -> None:
    files = images.oci_files([BUSYBOX])
    blob = next(name for name in files if name.startswith("blobs/") and b"standin-image" in files[name])
    files[blob] = files[blob] + b"tampered"
    archive = tmp_path / "bad.tar"
    archive.write_bytes(images.tar_bytes(files))
    with pytest.raises(ArchiveError, match="digest"):
        ImageStore(str(tmp_path)).import_archive(str(archive))


def test_unknown_file_types_are_not_imported(tmp_path: Path) -> None:
    images_dir = tmp_path / "agent" / "images"
    images_dir.mkdir(parents=True)
    (images_dir / "notes.md").write_text("not an archive")
    store = ImageStore(str(tmp_path))
    store.preload()
    assert store.list() == []


def test_cache_json_skips_unchanged_archives(tmp_path: Path) -> None:
    images_dir = tmp_path / "agent" / "images"
    images_dir.mkdir(parents=True)
    (images_dir / ".cache.json").write_text("")
    store = store_with(tmp_path, "a.tar", [BUSYBOX], images.OCI)
    cache = json.loads((images_dir / ".cache.json").read_text())
    assert list(cache) == [str(images_dir / "a.tar")]
    os.unlink(store.metadata)
    store.preload()
    assert not store.has(BUSYBOX)  # unchanged archive: not imported again, as k3s documents
    os.utime(images_dir / "a.tar", (1, 1))
    store.preload()
    assert store.has(BUSYBOX)


def k3s(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "k3s_standin", *args], env={**os.environ, "PYTHONPATH": str(REPO / "lab")},
                          capture_output=True, text=True, check=True).stdout


def test_ctr_and_crictl_list_the_store(tmp_path: Path) -> None:
    store_with(tmp_path, "a.tar", [BUSYBOX, RANCHER], images.OCI)
    listing = k3s("ctr", "--data-dir", str(tmp_path), "images", "ls").splitlines()
    assert listing[0].split() == ["REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"]
    assert listing[1].split()[0] == BUSYBOX and "linux/amd64" in listing[1]
    assert k3s("ctr", "--data-dir", str(tmp_path), "images", "ls", "-q").split() == [BUSYBOX, RANCHER]
    crictl = k3s("crictl", "--data-dir", str(tmp_path), "images").splitlines()
    assert crictl[0].split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert crictl[2].split()[:2] == ["docker.io/rancher/rancher", "v2.10.1"]


def test_ctr_images_import_adds_an_archive(tmp_path: Path) -> None:
    archive = images.write_archive(tmp_path / "extra.tar", [RANCHER], images.DOCKER)
    output = k3s("ctr", "--data-dir", str(tmp_path / "data"), "images", "import", str(archive))
    assert output.startswith(f"unpacking {RANCHER} (sha256:")
    assert ImageStore(str(tmp_path / "data")).has(RANCHER)


def test_ctr_images_rm_forgets_a_reference(tmp_path: Path) -> None:
    store_with(tmp_path, "a.tar", [BUSYBOX, RANCHER], images.OCI)
    assert k3s("ctr", "--data-dir", str(tmp_path), "images", "rm", "rancher/rancher:v2.10.1").strip() == RANCHER
    assert k3s("ctr", "--data-dir", str(tmp_path), "images", "ls", "-q").split() == [BUSYBOX]
