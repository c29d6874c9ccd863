"""
Air-gapped images: the operator's image archives on every k3s node, and a check, before any chart
is installed, that each image the charts run is there (or that a registry mirror serves them).

k3s imports every archive in ``/var/lib/rancher/k3s/agent/images/`` when it starts (k3s docs
"Air-Gap Install", "Manually Deploy Images"), so the archives go there before k3s starts, and a
changed archive restarts k3s (its digest is one of the unit's inputs, ``tasks.k3s_units``).
An archive is uploaded from its file (it can be hundreds of MB), staged beside its final name and
renamed, and only when its sha256 differs.

Example:

    image_archives_present(name="k3s image archives", archives=archives())
    images_present(name="Chart images on this node", images=["rancher/rancher:v2.10.1"])
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
from pathlib import Path

from pyinfra import host
from pyinfra.api import FileUploadCommand, StringCommand, operation
from pyinfra.api.command import QuoteString
from pyinfra.api.exceptions import OperationError

from facts.host_before import images_before
from facts.managed_state import Managed, changing, file_digests, managing
from facts.node_images import NodeImages
from tasks.settings import data_error, mapping, value

IMAGES_DIR = "/var/lib/rancher/k3s/agent/images"
# What k3s's image import reads (k3s-io/k3s pkg/agent/containerd/containerd.go); .txt lists are for
# pulling, which an air-gapped node cannot.
ARCHIVE_SUFFIXES = (".tar", ".tar.zst", ".tar.gz", ".tgz", ".tar.lz4", ".tar.bz2")


def archives() -> list[Path]:
    """Inventory ``k3s_image_archives``, each an existing file with a suffix k3s imports."""
    listed = value("k3s_image_archives")
    if not isinstance(listed, list):
        raise data_error("k3s_image_archives", f"must be a list of paths, got {type(listed).__name__}")
    found = []
    for entry in listed:
        path = Path(str(entry)).expanduser()
        if not path.name.endswith(ARCHIVE_SUFFIXES):
            raise data_error("k3s_image_archives", f"{path.name}: k3s imports {', '.join(ARCHIVE_SUFFIXES)} only")
        if not path.is_file():
            raise data_error("k3s_image_archives", f"no such file: {path}")
        found.append(path)
    return found


@functools.lru_cache(maxsize=None)
def file_sha256(path: Path) -> str:
    """The archive's digest, read once per run however many hosts get it."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remote_path(archive: Path) -> str:
    return f"{IMAGES_DIR}/{archive.name}"


@managing(lambda archives, **_: Managed(paths=[remote_path(archive) for archive in archives]))
@operation()
def image_archives_present(archives: list[Path]):
    """
    Each archive at ``/var/lib/rancher/k3s/agent/images/<name>`` with the same sha256 and mode 0644.

    Example:

    .. code:: python

        image_archives_present(name="k3s image archives", archives=archives())
    """
    present = file_digests([remote_path(archive) for archive in archives])
    changed = False
    for archive in archives:
        target = remote_path(archive)
        current = present.get(target)
        if current is not None and current["sha256"] == file_sha256(archive):
            continue
        changed = True
        changing([target])
        staged = posixpath.join(IMAGES_DIR, f".{archive.name}.new")
        yield StringCommand("mkdir", "-p", IMAGES_DIR)
        yield FileUploadCommand(str(archive), staged, remote_temp_filename=host.get_temp_filename(staged))
        yield StringCommand("chmod", "644", QuoteString(staged), "&&", "mv", "-f", QuoteString(staged),
                            QuoteString(target))
    if not changed:
        host.noop(f"{len(archives)} image archives are in place")


def normalized(reference: str) -> str:
    """An image reference as containerd names it (docker/distribution reference's normalize.go):
    ``busybox`` -> ``docker.io/library/busybox:latest``, ``rancher/rancher:v2`` ->
    ``docker.io/rancher/rancher:v2``; another registry's reference stays as it is."""
    first, _, rest = reference.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        domain, path = "docker.io", reference
    else:
        domain, path = first, rest
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if "@" not in path and ":" not in path.rsplit("/", 1)[-1]:
        path += ":latest"
    return f"{domain}/{path}"


@operation()
def images_present(images: list[str]):
    """
    Fail this host, naming the first missing image, when an image the charts run is not in its
    containerd (``k3s ctr images ls``) and no registry mirror (``k3s_registries``) is configured.

    Example:

    .. code:: python

        images_present(name="Chart images on this node", images=["rancher/rancher:v2.10.1"])
    """
    if mapping("k3s_registries"):
        host.noop("images come from the registries in k3s_registries")
        return
    before = set(images_before() or ())
    missing = [image for image in images if normalized(image) not in before]
    if missing:
        # called missing only from a read of now
        listed: tuple[str, ...] = host.get_fact(NodeImages)
        missing = [image for image in images if normalized(image) not in set(listed)]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise OperationError(str(data_error(
            "k3s_image_archives", f"image {normalized(missing[0])}{more} is not on this node (k3s ctr images ls) "
            "and no k3s_registries mirror is set: add the archive that holds it")))
    host.noop(f"{len(images)} chart images are on this node")
    yield from ()
