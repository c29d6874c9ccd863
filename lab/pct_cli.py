"""A `pct` for the lab: Proxmox's syntax, output and exit codes, over Debian's `lxc-*` tools.

Follows `pct(1)`: errors go to stderr and exit 255 as PVE's CLI handler does; `exec` returns the
command's own exit code; `push`/`pull` are binary safe. Every call is appended to the call log
(one line each) so benchmarks can count pct calls, which cost far more on real Proxmox.

Example:

    pct exec 101 -- systemctl is-active k3s
    pct push 101 ./config.yaml /etc/rancher/k3s/config.yaml --perms 0600
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import containers
from topology import STATE_DIR

CALL_LOG = STATE_DIR / "pct-calls.log"
FILE_OPTIONS = ("perms", "user", "group")
LIST_FORMAT = "%-10s %-10s %-12s %-20s"


class PctError(Exception):
    """A failure pct reports on stderr with exit status 255."""


def main(argv: list[str]) -> int:
    _log_call(argv)
    if not argv:
        return _fail("ERROR: no command specified")
    command, args = argv[0], argv[1:]
    handler = COMMANDS.get(command)
    if handler is None:
        return _fail(f"ERROR: unknown command 'pct {command}'")
    try:
        return handler(args)
    except PctError as error:
        return _fail(str(error))


def cmd_exec(args: list[str]) -> int:
    vmid = _existing_vmid(args)
    extra = args[1:]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    if not extra:
        raise PctError("missing command")
    os.execvp("lxc-attach", ["lxc-attach", "-n", str(vmid), "--", *extra])
    return 255


def cmd_push(args: list[str]) -> int:
    positional, options = _split_options(args, FILE_OPTIONS)
    vmid, source, destination = _positional(positional, ("vmid", "file", "destination"))
    vmid = _existing_vmid([vmid])
    _require_running(vmid, "can only push files to a running CT")
    try:
        source_file = open(source, "rb")
    except OSError:
        raise PctError(f"failed to open {source} for reading") from None
    script = 'cat > "$1" && { [ -z "$2" ] || chmod "$2" "$1"; } && { [ -z "$3" ] || chown "$3" "$1"; } ' \
             '&& { [ -z "$4" ] || chgrp "$4" "$1"; }'
    with source_file:
        result = subprocess.run(
            ["lxc-attach", "-n", str(vmid), "--", "/bin/sh", "-c", script, "sh", destination,
             _mode(options.get("perms")), options.get("user", ""), options.get("group", "")],
            stdin=source_file,
        )
    if result.returncode != 0:
        raise PctError(f"failed to create file: {destination}")
    return 0


def cmd_pull(args: list[str]) -> int:
    positional, options = _split_options(args, FILE_OPTIONS)
    vmid, path, destination = _positional(positional, ("vmid", "path", "destination"))
    vmid = _existing_vmid([vmid])
    _require_running(vmid, "can only pull files from a running VM")
    result = subprocess.run(["lxc-attach", "-n", str(vmid), "--", "cat", "--", path], capture_output=True)
    if result.returncode != 0:
        raise PctError(f"failed to open {path}: No such file or directory")
    mode = int(_mode(options.get("perms")) or "0", 8) or 0o666 & ~_umask()
    descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(result.stdout)
    if options.get("perms"):
        os.chmod(destination, mode)
    return 0


def cmd_list(args: list[str]) -> int:
    vmids = sorted(int(path.stem) for path in containers.PVE_DIR.glob("*.conf") if path.stem.isdigit())
    if not vmids:
        return 0
    print(LIST_FORMAT % ("VMID", "Status", "Lock", "Name"))
    for vmid in vmids:
        print(LIST_FORMAT % (vmid, containers.state(vmid), "", dict(containers.read_pve_conf(vmid))["hostname"]))
    return 0


def cmd_status(args: list[str]) -> int:
    positional, options = _split_options(args, ("verbose",))
    vmid = _existing_vmid(positional)
    status = containers.state(vmid)
    if options.get("verbose") in ("1", "true"):
        print(f"name: {dict(containers.read_pve_conf(vmid))['hostname']}")
        print(f"status: {status}")
        print(f"vmid: {vmid}")
    else:
        print(f"status: {status}")
    return 0


def cmd_config(args: list[str]) -> int:
    vmid = _existing_vmid(args)
    conf = containers.read_pve_conf(vmid)
    for key, value in sorted((k, v) for k, v in conf if not k.startswith("lxc.")):
        print(f"{key}: {value}")
    for key, value in conf:
        if key.startswith("lxc."):
            print(f"{key}: {value}")
    return 0


def cmd_start(args: list[str]) -> int:
    vmid = _existing_vmid(args)
    if containers.state(vmid) == "running":
        raise PctError(f"CT {vmid} already running")
    containers.start(vmid)
    return 0


def cmd_stop(args: list[str]) -> int:
    vmid = _existing_vmid(args)
    _require_running(vmid, f"CT {vmid} not running")
    containers.stop(vmid)
    return 0


def cmd_shutdown(args: list[str]) -> int:
    positional, options = _split_options(args, ("timeout", "forceStop"))
    vmid = _existing_vmid(positional)
    _require_running(vmid, f"CT {vmid} not running")
    containers.stop(vmid, timeout=int(options.get("timeout", "60")))
    if containers.state(vmid) == "running":
        if options.get("forceStop") not in ("1", "true"):
            raise PctError(f"CT {vmid} shutdown timed out")
        containers.stop(vmid)
    return 0


def cmd_reboot(args: list[str]) -> int:
    """A real restart of the container: shut down, then start with a freshly built /dev."""
    positional, options = _split_options(args, ("timeout",))
    vmid = _existing_vmid(positional)
    _require_running(vmid, f"CT {vmid} not running")
    containers.stop(vmid, timeout=int(options.get("timeout", "60")))
    if containers.state(vmid) == "running":
        containers.stop(vmid)
    containers.start(vmid)
    return 0


COMMANDS = {
    "exec": cmd_exec, "push": cmd_push, "pull": cmd_pull, "list": cmd_list, "status": cmd_status,
    "config": cmd_config, "start": cmd_start, "stop": cmd_stop, "shutdown": cmd_shutdown,
    "reboot": cmd_reboot,
}


def _existing_vmid(args: list[str]) -> int:
    if not args:
        raise PctError("400 not enough arguments\npct <command> <vmid>")
    vmid = args[0]
    if not vmid.isdigit() or not 100 <= int(vmid) <= 999_999_999:
        raise PctError(f"400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID")
    if not containers.pve_conf_path(int(vmid)).exists():
        raise PctError(f"Configuration file 'nodes/{socket.gethostname()}/lxc/{vmid}.conf' does not exist")
    return int(vmid)


def _require_running(vmid: int, message: str) -> None:
    if containers.state(vmid) != "running":
        raise PctError(message)


def _split_options(args: list[str], allowed: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """PVE's getopt: `-name value` or `--name value`, anywhere among the positionals."""
    positional, options = [], {}
    items = iter(args)
    for item in items:
        name = item.lstrip("-")
        if item.startswith("-") and name in allowed:
            value = next(items, None)
            if value is None:
                raise PctError(f"400 Parameter verification failed.\n{name}: missing value")
            options[name] = value
        elif item.startswith("-") and len(item) > 1:
            raise PctError(f"Unknown option: {name}")
        else:
            positional.append(item)
    return positional, options


def _positional(values: list[str], names: tuple[str, ...]) -> list[str]:
    if len(values) != len(names):
        raise PctError(f"400 wrong number of arguments\npct <command> {' '.join('<' + n + '>' for n in names)}")
    return values


def _mode(perms: str | None) -> str:
    """PVE reads perms as octal unless prefixed 0x; return an octal string for chmod."""
    if not perms:
        return ""
    try:
        value = int(perms, 16) if perms.lower().startswith("0x") else int(perms, 8)
    except ValueError:
        raise PctError(f"invalid mode: '{perms}'") from None
    return f"{value:04o}"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _log_call(argv: list[str]) -> None:
    """One line per call: time, sub-command, vmid (never file contents or command arguments)."""
    try:
        CALL_LOG.parent.mkdir(parents=True, exist_ok=True)
        with CALL_LOG.open("a") as log:
            log.write(f"{time.time():.3f} {' '.join(argv[:2])}\n")
    except OSError:
        pass


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 255


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
