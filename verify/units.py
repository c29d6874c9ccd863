"""systemd's own view of a unit (``systemctl show``), the same for present and missing units.

Example:
    unit_property(host, "k3s.service", "ActiveState") == "active"
"""

from __future__ import annotations

import testinfra.host


def unit_property(host: testinfra.host.Host, unit: str, name: str) -> str:
    """One property of ``unit`` as ``systemctl show -p <name> --value`` prints it."""
    return host.check_output("systemctl show -p %s --value %s", name, unit)
