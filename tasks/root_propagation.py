"""Ensures ``/`` is a shared mount in a k3s container now, not only at the next k3s start.

The k3s unit makes ``/`` rshared before it starts (``ExecStartPre=-/bin/mount --make-rshared /``),
but something that makes it private while k3s runs (a container tool, a manual ``mount
--make-private``) breaks new pods with Bidirectional or HostToContainer mounts until then (kubelet:
"path ... is mounted on "/" but it is not a shared mount"). Preflight reads the propagation.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api import StringCommand, operation


@operation()
def root_shared(propagation: str) -> Generator[Any, None, None]:
    """
    Make ``/`` rshared when preflight found it otherwise.

    + propagation: ``/``'s propagation as preflight read it (``shared``, ``private``, ...)

    **Example:**

    .. code:: python

        root_shared(name="/ shared mount", propagation=report["root_propagation"])
    """
    if propagation == "shared":
        host.noop("/ is a shared mount")
        return
    yield StringCommand("mount", "--make-rshared", "/")
