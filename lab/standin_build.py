"""Build the k3s stand-in into one executable file, the way an air-gapped user gets a k3s binary.

Example:

    binary = build_standin()   # lab/build/k3s
"""

from __future__ import annotations

import shutil
import tempfile
import zipapp
from pathlib import Path

from topology import BUILD_DIR, LAB_DIR

SOURCE = LAB_DIR / "k3s_standin"


def build_standin() -> Path:
    """Zip the stand-in package with a python3 shebang into lab/build/k3s; rebuilt every time (fast)."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    target = BUILD_DIR / "k3s"
    with tempfile.TemporaryDirectory() as staging:
        shutil.copytree(SOURCE, Path(staging) / SOURCE.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        partial = target.with_suffix(".partial")
        zipapp.create_archive(staging, partial, interpreter="/usr/bin/python3", main="k3s_standin.__main__:main")
    partial.chmod(0o755)
    partial.replace(target)
    return target
