"""HA-managed containers as Proxmox's ha-manager keeps them: `ct: <vmid>` sections in the
cluster-wide `/etc/pve/ha/resources.cfg`, and a `pct start` that only queues a request.

Upstream: proxmox/pve-ha-manager src/PVE/HA/Config.pm `vm_is_ha_managed` looks up `ct:<vmid>`
(and `vm:<vmid>`) in `ha/resources.cfg`, where a resource whose `state` is `ignored` counts as not
managed (`$service_check_ha_state`: "ignored service behave as if they were not managed by HA");
src/PVE/HA/Resources.pm `format_section_header` writes the header `"$type: $name\\n"`.
proxmox/pve-container src/PVE/API2/LXC/Status.pm `vm_start`: for an HA-managed container (and a
caller that is not the HA stack itself, `$rpcenv->{type} ne 'ha'`) its task prints
`Requesting HA start for CT $vmid` and runs `ha-manager set ct:$vmid --state started`, then returns:
the CRM and then the LRM start the container later, each in rounds of 10 seconds
(src/PVE/HA/CRM.pm and LRM.pm: `my $max_time = 10;` ... `sleep_until($startime + $max_time)`).

Example:

    mark_ha_managed(112)          # ct: 112 / state started
    is_ha_managed(112)            # True
    unmark_ha_managed(112)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import containers
from topology import PCT

# The lab's HA stack waits one CRM round; LAB_HA_START_DELAY changes it (seconds, bounded).
START_DELAY = 10
MAX_START_DELAY = 60
# Set in the environment of the start the lab's HA stack runs, as `$rpcenv->{type}` is 'ha' there.
RPCENV = "LAB_PVE_RPCENV"


def resources_path() -> Path:
    """`/etc/pve/ha/resources.cfg`, cluster-wide: every node reads the same file."""
    return containers.PVE_ROOT / "ha" / "resources.cfg"


def read_resources() -> dict[str, dict[str, str]]:
    """The sections of resources.cfg: `ct:112` -> {"state": "started", ...}, in file order."""
    path = resources_path()
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in path.read_text().splitlines() if path.exists() else []:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and current is not None:
            key, _, value = line.strip().partition(" ")
            current[key] = value.strip()
        else:
            kind, _, name = line.partition(":")
            current = sections.setdefault(f"{kind.strip().lower()}:{name.strip()}", {})
    return sections


def is_ha_managed(vmid: int) -> bool:
    """Whether `ct:<vmid>` or `vm:<vmid>` is a resource whose state is not `ignored`."""
    resources = read_resources()
    return any(
        sid in resources and resources[sid].get("state") != "ignored" for sid in (f"ct:{vmid}", f"vm:{vmid}")
    )


def mark_ha_managed(vmid: int, state: str = "started") -> None:
    """Make the container an HA resource (`ha-manager add ct:<vmid> --state <state>`), for tests."""
    set_state(vmid, state)


def set_state(vmid: int, state: str) -> None:
    """The resource's requested state, as `ha-manager set ct:<vmid> --state <state>` writes it."""
    resources = read_resources()
    resources.setdefault(f"ct:{vmid}", {})["state"] = state
    _write(resources)


def unmark_ha_managed(vmid: int) -> None:
    """Remove the container from HA (`ha-manager remove ct:<vmid>`)."""
    resources = read_resources()
    if resources.pop(f"ct:{vmid}", None) is not None:
        _write(resources)


def request_start(vmid: int) -> None:
    """What `pct start` does for an HA-managed container: print the request, set the resource's
    state to `started` and leave the start to the HA stack, which runs it after ``start_delay()``."""
    print(f"Requesting HA start for CT {vmid}", flush=True)
    set_state(vmid, "started")
    spawn_start(vmid, start_delay())


def start_delay() -> int:
    value = os.environ.get("LAB_HA_START_DELAY", str(START_DELAY))
    if not value.isdigit() or int(value) > MAX_START_DELAY:
        raise SystemExit(f"lab: field LAB_HA_START_DELAY: must be 0 to {MAX_START_DELAY} seconds, got {value!r}")
    return int(value)


def spawn_start(vmid: int, delay: int) -> None:
    """The LRM's start, in the background: after ``delay`` seconds, one `pct start <vmid>` on this
    node as the HA stack (it bypasses the HA request), then nothing more, whatever it says."""
    subprocess.Popen(
        ["/bin/sh", "-c", 'sleep "$1"; exec "$2" start "$3"', "lab-ha-start", str(delay), str(PCT), str(vmid)],
        env={**os.environ, RPCENV: "ha"},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def called_by_ha() -> bool:
    return os.environ.get(RPCENV) == "ha"


def _write(resources: dict[str, dict[str, str]]) -> None:
    """SectionConfig's layout: a `type: name` header, tab-indented `key value` lines, a blank line."""
    text = ""
    for sid, options in resources.items():
        kind, _, name = sid.partition(":")
        text += f"{kind}: {name}\n" + "".join(f"\t{key} {value}\n" for key, value in options.items()) + "\n"
    path = resources_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)
