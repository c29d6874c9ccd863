"""Ensures Debian packages are installed, refreshing the apt lists first whenever something is to be
installed: a container made from a template (Proxmox's debian-12-standard) carries the lists of the
day the template was built, whose package versions the mirror has long dropped, so a plain
``apt-get install`` fails with 404s there.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api import StringCommand, operation

from facts.managed_state import Managed, changing_anything, managed, managing


@managing(lambda packages, **_: Managed(packages=packages))
@operation()
def packages_installed(packages: list[str]) -> Generator[Any, None, None]:
    """
    Install the packages that are missing, after ``apt-get update``; nothing when all are installed.

    + packages: Debian package names

    **Example:**

    .. code:: python

        packages_installed(name="HAProxy installed", packages=["haproxy", "python3"])
    """
    installed = managed(packages=packages)["packages"]
    missing = [package for package in packages if not installed[package]]
    if not missing:
        host.noop(f"{', '.join(packages)} installed")
        return
    changing_anything()
    yield StringCommand("apt-get", "update", "-qq")
    yield StringCommand("DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", *missing)
