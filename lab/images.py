"""The image archives an air-gapped operator carries, as the lab builds them: tiny but real images
(a config JSON, one small layer, every digest right) in the two layouts `ctr images import` reads.

Upstream layouts: the OCI image layout (opencontainers/image-spec image-layout.md: `oci-layout`,
`index.json` whose manifests carry the `io.containerd.image.name` and
`org.opencontainers.image.ref.name` annotations, blobs under `blobs/sha256/`), which k3s's release
asset `k3s-airgap-images-amd64.tar.zst` uses, and the docker-archive layout (`docker save`:
`manifest.json` with `Config`, `RepoTags`, `Layers`) that `docker save`-made product archives use.
k3s imports both from `<data-dir>/agent/images/` (docs.k3s.io "Air-Gap Install").

Archives are written only when missing or when their inputs (references, layout) changed; a hidden
`.<archive>.inputs` file beside each records what it was built from.

Example:
    build_image_archives()   # [lab/build/images/k3s-airgap-images-amd64.tar.zst, ...]
    write_archive(Path("/tmp/x.tar"), ["docker.io/library/busybox:1.36"], layout="docker")
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

import airgap_inputs
from k3s_standin import release

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI, DOCKER = "oci", "docker"


def digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """A reproducible tar (fixed mtime, owner and mode): same inputs, same digests."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def image_blobs(reference: str) -> tuple[bytes, bytes]:
    """(config, layer) of one image: the layer holds a file naming the image, so each differs."""
    layer = tar_bytes({"etc/standin-image": f"{reference}\n".encode()})
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                         "config": {"Entrypoint": ["/bin/standin"], "Labels": {"image": reference}},
                         "rootfs": {"type": "layers", "diff_ids": [digest(layer)]}},
                        sort_keys=True).encode()
    return config, layer


def oci_files(references: Sequence[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    manifests = []
    for reference in references:
        config, layer = image_blobs(reference)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": digest(layer), "size": len(layer)}]},
            sort_keys=True).encode()
        for blob in (config, layer, manifest):
            files[f"blobs/sha256/{digest(blob).split(':')[1]}"] = blob
        manifests.append({"mediaType": OCI_MANIFEST, "digest": digest(manifest), "size": len(manifest),
                          "platform": {"architecture": "amd64", "os": "linux"},
                          "annotations": {"io.containerd.image.name": reference,
                                          "org.opencontainers.image.ref.name": reference.rsplit(":", 1)[1]}})
    files["index.json"] = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                      "manifests": manifests}, sort_keys=True).encode()
    return files


def docker_files(references: Sequence[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    entries = []
    for reference in references:
        config, layer = image_blobs(reference)
        config_name = f"{digest(config).split(':')[1]}.json"
        layer_name = f"{digest(layer).split(':')[1]}/layer.tar"
        files[config_name], files[layer_name] = config, layer
        entries.append({"Config": config_name, "RepoTags": [reference], "Layers": [layer_name]})
    files["manifest.json"] = json.dumps(entries).encode()
    return files


def archive_bytes(references: Sequence[str], layout: str) -> bytes:
    """The tar of `references` in the OCI (`oci`) or docker-archive (`docker`) layout."""
    return tar_bytes(oci_files(references) if layout == OCI else docker_files(references))


def write_archive(target: Path, references: Sequence[str], layout: str = OCI) -> Path:
    """Write the archive; `.zst` names are compressed with the zstd CLI, as k3s's release asset is."""
    data = archive_bytes(references, layout)
    if target.name.endswith(".zst"):
        data = subprocess.run(["zstd", "-q", "-c", "-19"], input=data, capture_output=True, check=True).stdout
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def ensure_archive(target: Path, references: Sequence[str], layout: str) -> Path:
    """Build `target` unless it exists and was built from the same inputs."""
    inputs = json.dumps({"references": list(references), "layout": layout}, sort_keys=True)
    stamp = target.with_name(f".{target.name}.inputs")
    if not (target.exists() and stamp.exists() and stamp.read_text() == inputs):
        write_archive(target, references, layout)
        stamp.write_text(inputs)
    return target


def build_image_archives() -> list[Path]:
    """The three archives under `airgap_inputs.IMAGES_DIR`: k3s's own (OCI, zstd), Rancher's and
    cert-manager's (docker-archive)."""
    directory = airgap_inputs.IMAGES_DIR
    return [ensure_archive(directory / airgap_inputs.K3S_IMAGES_ARCHIVE, release.SYSTEM_IMAGES, OCI),
            ensure_archive(directory / airgap_inputs.RANCHER_IMAGES_ARCHIVE, airgap_inputs.RANCHER_IMAGES, DOCKER),
            ensure_archive(directory / airgap_inputs.CERT_MANAGER_IMAGES_ARCHIVE,
                           airgap_inputs.CERT_MANAGER_IMAGES, DOCKER)]
