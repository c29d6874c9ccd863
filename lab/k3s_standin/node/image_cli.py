"""`k3s ctr images ls|import` and `k3s crictl images`: the node's image store as containerd's `ctr`
(namespace k8s.io, as `k3s ctr` uses) and cri-tools' `crictl` print it.

Upstream: containerd/containerd cmd/ctr/commands/images/images.go (`ls`: tabwriter columns REF TYPE
DIGEST SIZE PLATFORMS LABELS, `-q` refs only; `import`: "unpacking <name> (<digest>)...done"),
kubernetes-sigs/cri-tools cmd/crictl/image.go (`images`: IMAGE TAG IMAGE ID SIZE, the id cut to 13
characters, sizes as docker/go-units HumanSizeWithPrecision(size, 3)).

Example:
    k3s ctr images ls -q
    k3s crictl images
"""

from __future__ import annotations

from collections.abc import Sequence

from k3s_standin.node.image_store import ArchiveError, ImageStore, normalize

CTR_USAGE = "usage: k3s ctr images ls [-q] | k3s ctr images import FILE... | k3s ctr images rm REF..."
MANAGED = "io.cri-containerd.image=managed"


def table(rows: list[list[str]], min_width: int, padding: int) -> str:
    """Go's tabwriter with space padding: each column as wide as its widest cell plus padding."""
    widths = [max(min_width, max(len(row[i]) for row in rows) + padding) for i in range(len(rows[0]) - 1)]
    return "\n".join("".join(cell.ljust(width) for cell, width in zip(row, widths)) + row[-1] for row in rows)


def ctr_bytes(size: int) -> str:
    """containerd's progress.Bytes: binary units, one decimal ("10.7 KiB")."""
    value, units = float(size), ["B", "KiB", "MiB", "GiB", "TiB"]
    index = 0
    while value >= 1024 and index < len(units) - 1:
        value, index = value / 1024, index + 1
    return f"{value:.1f} {units[index]}"


def human_size(size: int) -> str:
    """docker/go-units HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits ("11kB")."""
    value, units = float(size), ["B", "kB", "MB", "GB", "TB"]
    index = 0
    while value >= 1000 and index < len(units) - 1:
        value, index = value / 1000, index + 1
    return f"{value:.3g}{units[index]}"


def ctr(store: ImageStore, argv: Sequence[str]) -> int:
    args = list(argv)
    while args and args[0].startswith("-"):
        args = args[2:] if args[0] in ("-n", "--namespace", "-a", "--address") else args[1:]
    if len(args) < 2 or args[0] not in ("images", "image", "i"):
        print(CTR_USAGE)
        return 1
    command, rest = args[1], args[2:]
    if command in ("ls", "list"):
        images = store.list()
        if "-q" in rest or "--quiet" in rest:
            print("\n".join(image["name"] for image in images))
            return 0
        rows = [["REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"]]
        rows += [[i["name"], i["mediaType"], i["digest"], ctr_bytes(i["size"]), "linux/amd64", MANAGED] for i in images]
        print(table(rows, 1, 1))
        return 0
    if command == "import" and rest:
        for file_name in rest:
            try:
                names = store.import_archive(file_name)
            except (ArchiveError, OSError, ValueError) as error:
                print(f"ctr: {error}")
                return 1
            for name in names:
                print(f"unpacking {name} ({store.records()[name]['digest']})...done")
        return 0
    if command in ("rm", "remove", "delete", "del") and rest:
        # ctr prints each removed reference, and "ctr: image "<ref>": not found" for an unknown one
        records = store.records()
        for reference in rest:
            normalized = normalize(reference)
            name = normalized if normalized in records else reference
            if records.pop(name, None) is None:
                print(f'ctr: image "{reference}": not found')
                return 1
            print(name)
        store.write_records(records)
        return 0
    print(CTR_USAGE)
    return 1


def crictl(store: ImageStore, argv: Sequence[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    if args[:1] not in (["images"], ["img"]):
        print("usage: k3s crictl images")
        return 1
    rows = [["IMAGE", "TAG", "IMAGE ID", "SIZE"]]
    for image in store.list():
        repository, _, tag = image["name"].rpartition(":")
        rows.append([repository, tag, image["config"].removeprefix("sha256:")[:13], human_size(image["size"])])
    print(table(rows, 20, 3))
    return 0
