"""Build the k3s stand-in into one executable file, the way an air-gapped user gets a k3s binary.

The version is chosen here, as a real k3s release's is at build time: `lab/build/k3s` is the default
(`k3s_standin.DEFAULT_K3S_VERSION`), any other is `lab/build/k3s-<version>`, so the lab can hold the
current release and the one an upgrade starts from side by side.

Example:

    binary = build_standin()                      # lab/build/k3s, v1.31.4+k3s1
    older = build_standin(release.PREVIOUS_K3S_VERSION)   # lab/build/k3s-v1.30.8+k3s1
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipapp
from pathlib import Path

from k3s_standin import BUILD_VERSION_FILE, DEFAULT_K3S_VERSION
from topology import BUILD_DIR, LAB_DIR

SOURCE = LAB_DIR / "k3s_standin"
# A k3s release tag (k3s-io/k3s scripts/version.sh): v<major>.<minor>.<patch>[-rcN]+k3sN.
RELEASE_TAG = re.compile(r"v\d+\.\d+\.\d+(-rc\d+)?\+k3s\d+")


def binary_name(version: str) -> str:
    """`k3s` for the default version, `k3s-<version>` for another."""
    return "k3s" if version == DEFAULT_K3S_VERSION else f"k3s-{version}"


# What zipapp writes for main="k3s_standin.__main__:main" (CPython Lib/zipapp.py MAIN_TEMPLATE);
# written as a file here, since zipapp stamps its own with the time of the build.
MAIN = "# -*- coding: utf-8 -*-\nimport k3s_standin.__main__\nk3s_standin.__main__.main()\n"
# Every entry's time in the archive (the zip format's earliest, 1980-01-01): the same sources give
# the same bytes, so the same sha256, and a deploy after `make lab-up` replaces no binary.
ENTRY_TIME = (315532800, 315532800)


def build_standin(version: str | None = None, directory: Path = BUILD_DIR) -> Path:
    """Zip the stand-in package, reporting `version`, with a python3 shebang into `directory`
    (lab/build); rebuilt every time (fast), byte for byte the same from the same sources. Raises
    ValueError for a version k3s would never carry."""
    version = version or DEFAULT_K3S_VERSION
    if not RELEASE_TAG.fullmatch(version):
        raise ValueError(f"not a k3s release version: {version!r} (expected e.g. {DEFAULT_K3S_VERSION})")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / binary_name(version)
    with tempfile.TemporaryDirectory() as staging:
        package = Path(staging) / SOURCE.name
        shutil.copytree(SOURCE, package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", BUILD_VERSION_FILE))
        (package / BUILD_VERSION_FILE).write_text(f"{version}\n")
        (Path(staging) / "__main__.py").write_text(MAIN)
        for entry in Path(staging).rglob("*"):
            os.utime(entry, ENTRY_TIME)
        partial = target.with_name(target.name + ".partial")
        zipapp.create_archive(staging, partial, interpreter="/usr/bin/python3")
    partial.chmod(0o755)
    partial.replace(target)
    return target
