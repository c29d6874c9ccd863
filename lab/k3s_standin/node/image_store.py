"""The node's image store, as containerd keeps it under `<data-dir>/agent/containerd/` (k3s's
containerd root): blobs in `io.containerd.content.v1.content/blobs/sha256/`, image records (name ->
manifest) in the metadata store, here `io.containerd.metadata.v1.bolt/images.json` in place of
containerd's bolt database. It persists across k3s restarts and reboots, as containerd's does.

Upstream: k3s-io/k3s pkg/agent/containerd/containerd.go `preloadImages`/`preloadFile` (every file in
`<data-dir>/agent/images/` ending .tar, .tar.gz/.tgz, .tar.bz2/.tbz, .tar.zst/.tzst is imported at
start: "Importing images from ...", "Imported <name>", "Imported images from ... in ..."; anything
else "unhandled file type"), containerd/containerd images/archive/importer.go (OCI layout names from
the `io.containerd.image.name` annotation, docker-archive names from `manifest.json` RepoTags),
distribution/reference normalize.go `ParseNormalizedNamed` (docker.io/library/..., `:latest`).
Conditional imports (docs.k3s.io "Import Images"): only when `<images dir>/.cache.json` exists, an
archive whose size and mtime are those recorded there is not imported again.

Example:
    store = ImageStore("/var/lib/rancher/k3s")
    store.preload()                       # at kubelet start
    store.has("rancher/rancher:v2.10.1")  # True once an archive carried it
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
from dataclasses import dataclass
from typing import Any

from k3s_standin.controllers import log

Obj = dict[str, Any]
CONTENT = ("agent", "containerd", "io.containerd.content.v1.content", "blobs", "sha256")
METADATA = ("agent", "containerd", "io.containerd.metadata.v1.bolt", "images.json")
IMAGES_DIR = ("agent", "images")
CACHE_FILE = ".cache.json"
NAME_ANNOTATION = "io.containerd.image.name"


class ArchiveError(ValueError):
    """An archive containerd would refuse (wrong digest, missing blob, unknown layout or type)."""


def normalize(image: str) -> str:
    """A reference as containerd names it: `busybox` -> `docker.io/library/busybox:latest`,
    `rancher/rancher:v2.10.1` -> `docker.io/rancher/rancher:v2.10.1`."""
    name, at, digest_part = image.partition("@")
    first, slash, rest = name.partition("/")
    if not slash:
        domain, remainder = "docker.io", f"library/{first}"
    elif "." in first or ":" in first or first == "localhost":
        domain, remainder = first, rest
    else:
        domain, remainder = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in remainder:
        remainder = f"library/{remainder}"
    if not at and ":" not in remainder.rsplit("/", 1)[-1]:
        remainder += ":latest"
    return f"{domain}/{remainder}{at}{digest_part}"


def go_duration(seconds: float) -> str:
    """Go's time.Duration String for the log line: 812.4µs, 12.345678ms, 1.5s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f}µs".replace(".0µs", "µs")
    if seconds < 1:
        return f"{seconds * 1e3:.6f}".rstrip("0").rstrip(".") + "ms"
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"


def decompressed(file_name: str) -> bytes:
    """The tar inside an archive, by its suffix as k3s's preloadFile picks the reader."""
    lower = file_name.lower()
    with open(file_name, "rb") as handle:
        data = handle.read()
    if lower.endswith(".tar"):
        return data
    if lower.endswith((".tar.gz", ".tgz")):
        return gzip.decompress(data)
    if lower.endswith((".tar.bz2", ".tbz")):
        return bz2.decompress(data)
    if lower.endswith(("tar.zst", ".tzst")):
        result = subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=False)
        if result.returncode != 0:
            raise ArchiveError(f"zstd: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout
    raise ArchiveError("unhandled file type")


def sha(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@dataclass
class Image:
    name: str
    digest: str
    size: int
    config_digest: str
    media_type: str


class Archive:
    """One archive's files, read whole (the lab's archives are small)."""

    def __init__(self, data: bytes) -> None:
        self.files: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive.getmembers():
                if member.isfile():
                    self.files[member.name.removeprefix("./")] = archive.extractfile(member).read()

    def json(self, name: str) -> Any:
        if name not in self.files:
            raise ArchiveError(f"{name}: not found")
        return json.loads(self.files[name])

    def blob(self, digest: str, expected_size: int | None = None) -> bytes:
        data = self.files.get(f"blobs/sha256/{digest.removeprefix('sha256:')}")
        if data is None:
            raise ArchiveError(f"content digest {digest}: not found")
        if sha(data) != digest or (expected_size is not None and len(data) != expected_size):
            raise ArchiveError(f"unexpected commit digest {sha(data)}, expected {digest}: failed precondition")
        return data


def oci_images(archive: Archive) -> tuple[list[Image], list[bytes]]:
    """Images of an OCI layout: each index entry named by its annotation, its blobs checked."""
    images, blobs = [], []
    for entry in archive.json("index.json").get("manifests") or []:
        manifest_data = archive.blob(entry["digest"], entry.get("size"))
        manifest = json.loads(manifest_data)
        parts = [archive.blob(d["digest"], d.get("size")) for d in [manifest["config"], *manifest["layers"]]]
        blobs += [manifest_data, *parts]
        name = (entry.get("annotations") or {}).get(NAME_ANNOTATION)
        if name:
            images.append(Image(normalize(name), entry["digest"], len(manifest_data) + sum(map(len, parts)),
                                manifest["config"]["digest"], entry.get("mediaType", manifest.get("mediaType", ""))))
    return images, blobs


def docker_images(archive: Archive) -> tuple[list[Image], list[bytes]]:
    """Images of a docker archive: containerd converts each to a docker schema 2 manifest."""
    images, blobs = [], []
    for entry in archive.json("manifest.json"):
        config = archive.files.get(entry["Config"])
        layers = [archive.files.get(name) for name in entry["Layers"]]
        if config is None or any(layer is None for layer in layers):
            raise ArchiveError(f"{entry['Config']}: not found")
        diff_ids = (json.loads(config).get("rootfs") or {}).get("diff_ids") or []
        if diff_ids != [sha(layer) for layer in layers]:
            raise ArchiveError("layer digests do not match the config's rootfs.diff_ids")
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": sha(config),
                       "size": len(config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar", "digest": sha(layer),
                        "size": len(layer)} for layer in layers]}).encode()
        blobs += [manifest, config, *layers]
        for tag in entry.get("RepoTags") or []:
            images.append(Image(normalize(tag), sha(manifest), len(manifest) + len(config) + sum(map(len, layers)),
                                sha(config), "application/vnd.docker.distribution.manifest.v2+json"))
    return images, blobs


class ImageStore:
    """containerd's content and image records of one node (namespace k8s.io)."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.content = os.path.join(data_dir, *CONTENT)
        self.metadata = os.path.join(data_dir, *METADATA)
        self.images_dir = os.path.join(data_dir, *IMAGES_DIR)
        self.cached: tuple[float, dict[str, Obj]] = (-1.0, {})

    def records(self) -> dict[str, Obj]:
        """name -> record, re-read only when the metadata file changed (`ctr images import` may add)."""
        try:
            stamp = os.stat(self.metadata).st_mtime
        except FileNotFoundError:
            return {}
        if stamp != self.cached[0]:
            with open(self.metadata, encoding="utf-8") as handle:
                self.cached = (stamp, json.load(handle))
        return self.cached[1]

    def has(self, image: str) -> bool:
        return normalize(image) in self.records()

    def list(self) -> list[Obj]:
        return [{"name": name, **record} for name, record in sorted(self.records().items())]

    def write_records(self, records: dict[str, Obj]) -> None:
        os.makedirs(os.path.dirname(self.metadata), exist_ok=True)
        partial = f"{self.metadata}.partial"
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(records, handle, indent=1, sort_keys=True)
        os.replace(partial, self.metadata)

    def import_archive(self, file_name: str) -> list[str]:
        """Import one archive (any layout, any supported compression); the names it added."""
        data = decompressed(file_name)
        log.info(f"Importing images from {file_name}")
        archive = Archive(data)
        images, blobs = (oci_images if "index.json" in archive.files else docker_images)(archive)
        os.makedirs(self.content, exist_ok=True)
        for blob in blobs:
            target = os.path.join(self.content, sha(blob).removeprefix("sha256:"))
            if not os.path.exists(target):
                with open(f"{target}.partial", "wb") as handle:
                    handle.write(blob)
                os.replace(f"{target}.partial", target)
        records = dict(self.records())
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for image in images:
            records[image.name] = {"digest": image.digest, "size": image.size, "config": image.config_digest,
                                   "mediaType": image.media_type, "created": now}
        self.write_records(records)
        return [image.name for image in images]

    def preload(self) -> None:
        """k3s's start-up import of every archive in `<data-dir>/agent/images/`."""
        try:
            names = sorted(os.listdir(self.images_dir))
        except FileNotFoundError:
            return
        cache_file = os.path.join(self.images_dir, CACHE_FILE)
        cache = read_cache(cache_file) if os.path.exists(cache_file) else None
        for name in names:
            file_name = os.path.join(self.images_dir, name)
            if not os.path.isfile(file_name) or name == CACHE_FILE or name.endswith(".txt"):
                continue
            info = os.stat(file_name)
            seen = {"size": info.st_size, "modTime": info.st_mtime}
            if cache is not None and cache.get(file_name) == seen:
                continue
            start = time.monotonic()
            try:
                for image in self.import_archive(file_name):
                    log.info(f"Imported {image}")
            except (ArchiveError, OSError, ValueError, KeyError, tarfile.TarError) as error:
                log.error(f"Error encountered while importing {file_name}: {error}")
                continue
            log.info(f"Imported images from {file_name} in {go_duration(time.monotonic() - start)}")
            if cache is not None:
                cache[file_name] = seen
        if cache is not None:
            with open(cache_file, "w", encoding="utf-8") as handle:
                json.dump(cache, handle)


def read_cache(cache_file: str) -> dict[str, Obj]:
    """The conditional-import cache; an empty or cleared file means "import everything" (k3s docs)."""
    try:
        with open(cache_file, encoding="utf-8") as handle:
            return json.load(handle) or {}
    except (OSError, ValueError):
        return {}
