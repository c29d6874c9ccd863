"""A `pct` for the lab: Proxmox's syntax, output and exit codes, over Debian's `lxc-*` tools.

Follows `pct(1)`: errors go to stderr and exit 255, as an uncaught `die` in PVE's CLI handler does
(`Configuration file 'nodes/<node>/lxc/<vmid>.conf' does not exist`, exit 255, is what `pct start`
prints on a real node: tteck/Proxmox issue #1225); `exec` returns the command's own exit code;
`push`/`pull` are binary safe and, like the real ones, exit 0 when the copy itself fails (see
`cmd_push`). pct sees only its own node's containers (`containers.pve_conf_path`); `start` of an
HA-managed container only queues it (`cmd_start`). Every call is
appended to the call log (one line each) so benchmarks can count pct calls, which cost far more on
real Proxmox.

Example:

    pct exec 101 -- systemctl is-active k3s
    pct push 101 ./config.yaml /etc/rancher/k3s/config.yaml --perms 0600
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
import time

import containers
import ha
from topology import STATE_DIR

CALL_LOG = STATE_DIR / "pct-calls.log"
FILE_OPTIONS = ("perms", "user", "group")
LIST_FORMAT = "%-10s %-10s %-12s %-20s"


class PctError(Exception):
    """A failure pct reports on stderr with exit status 255."""


class TaskError(Exception):
    """A failure inside a pct task (`fork_worker`): on stderr, yet pct exits 0 (see `cmd_push`)."""


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
    except TaskError as error:
        print(error, file=sys.stderr)
        return 0


def cmd_exec(args: list[str]) -> int:
    vmid = _existing_vmid(args)
    extra = args[1:]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    if not extra:
        raise PctError("missing command")
    os.execvp("lxc-attach", ["lxc-attach", "-n", str(vmid), "--", *extra])
    return 255


# The container side of `pct push`: create_file's checks and messages, then the copy.
PUSH_SCRIPT = r"""
dest=$1 mode=$2 user=$3 group=$4
case $user in ''|*[!0-9]*) [ -z "$user" ] || id -u "$user" >/dev/null 2>&1 ||
    { echo "failed to get uid for: $user" >&2; exit 1; } ;; esac
case $group in ''|*[!0-9]*) [ -z "$group" ] || getent group "$group" >/dev/null ||
    { echo "failed to get gid for: $group" >&2; exit 1; } ;; esac
error=$(tee -- "$dest" 2>&1 >/dev/null) || { echo "failed to create file: $dest: ${error##*: }" >&2; exit 1; }
[ -z "$mode" ] || chmod "$mode" "$dest" || exit 1
[ -z "$user$group" ] || error=$(chown -- "$user${group:+:$group}" "$dest" 2>&1) ||
    { echo "failed to change file owner: ${error##*: }" >&2; exit 1; }
"""


def cmd_push(args: list[str]) -> int:
    """`pct push <vmid> <file> <destination>`: exit 0 even when the copy fails, the reason on stderr.

    Upstream: proxmox/pve-container src/PVE/CLI/pct.pm, `push` runs its copy in
    `$rpcenv->fork_worker('push_file', $vmid, undef, $realcmd)` and its cmddef entry
    `push => [__PACKAGE__, 'push', ['vmid', 'file', 'destination']]` has no `$upid_exit` to turn
    the task's status into the exit code (`start`, `stop`... have it); proxmox/pve-common
    src/PVE/RESTEnvironment.pm `$tee_worker` prints a `TASK ERROR: <message>` as `<message>` on
    stderr. So `failed to open <file> for reading` and `create_file`'s `failed to create file:
    <path>: <errno>` exit 0; only `can only push files to a running CT`, checked before the task,
    exits 255.
    """
    positional, options = _split_options(args, FILE_OPTIONS)
    vmid, source, destination = _positional(positional, ("vmid", "file", "destination"))
    running = _running_vmid(vmid, "can only push files to a running CT")
    try:
        source_file = open(source, "rb")
    except OSError:
        raise TaskError(f"failed to open {source} for reading") from None
    with source_file:
        mode = _perms(options.get("perms"))
        result = subprocess.run(
            ["lxc-attach", "-n", str(running), "--", "/bin/sh", "-c", PUSH_SCRIPT, "sh", destination,
             "" if mode is None else f"{mode:04o}", options.get("user", ""), options.get("group", "")],
            stdin=source_file, stderr=subprocess.PIPE,
        )
    if result.returncode != 0:
        raise TaskError(_last_line(result.stderr) or f"failed to create file: {destination}")
    return 0


def cmd_pull(args: list[str]) -> int:
    """`pct pull <vmid> <path> <destination>`: creates the destination first, so a failed pull
    leaves it empty, and exits 0 with the reason on stderr.

    Upstream: proxmox/pve-container src/PVE/CLI/pct.pm, `pull`'s `$realcmd` calls
    `create_file($dest, $perms, $user, $group)` before it enters the container and runs
    `open my $srcfd, '<', $path or die "failed to open $path: $!\n"`, all inside
    `fork_worker('pull_file', ...)`, whose failure does not reach the exit code (see `cmd_push`).
    `can only pull files from a running VM` is checked before the task and exits 255.
    """
    positional, options = _split_options(args, FILE_OPTIONS)
    vmid, path, destination = _positional(positional, ("vmid", "path", "destination"))
    running = _running_vmid(vmid, "can only pull files from a running VM")
    descriptor = create_file(destination, _perms(options.get("perms")), options.get("user"), options.get("group"))
    with os.fdopen(descriptor, "wb") as handle:
        result = subprocess.run(["lxc-attach", "-n", str(running), "--", "cat", "--", path],
                                stdout=handle, stderr=subprocess.PIPE)
    if result.returncode != 0:
        reason = _last_line(result.stderr).rpartition(": ")[2] or "No such file or directory"
        raise TaskError(f"failed to open {path}: {reason}")
    return 0


def create_file(path: str, mode: int | None, user: str | None, group: str | None) -> int:
    """Open ``path`` for writing as pct's `create_file` does; return the descriptor.

    Upstream: proxmox/pve-container src/PVE/CLI/pct.pm `sub create_file`: owner names are looked
    up first; a new file is made with `O_EXCL` and mode 0, then gets ``mode`` or `0666 & ~umask`;
    an existing one is truncated and keeps its mode unless ``mode`` is given.

    Example:
        os.close(create_file("/tmp/copy", 0o600, None, None))
    """
    uid = _owner_id(user, "uid", lambda name: pwd.getpwnam(name).pw_uid)
    gid = _owner_id(group, "gid", lambda name: grp.getgrnam(name).gr_gid)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0)
        if mode is None:
            mode = 0o666 & ~_umask()
    except OSError:
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        except OSError as error:
            raise TaskError(f"failed to create file: {path}: {error.strerror}") from None
    if mode is not None:
        os.fchmod(descriptor, mode)
    if uid is not None or gid is not None:
        status = os.fstat(descriptor)
        try:
            os.fchown(descriptor, status.st_uid if uid is None else uid, status.st_gid if gid is None else gid)
        except OSError as error:
            os.close(descriptor)
            raise TaskError(f"failed to change file owner: {error.strerror}") from None
    return descriptor


def cmd_list(args: list[str]) -> int:
    """This node's containers; Lock is the conf's `lock` (e.g. `migrate` while one moves), else empty."""
    confs = containers.node_lxc_dir(containers.this_node()).glob("*.conf")
    vmids = sorted(int(path.stem) for path in confs if path.stem.isdigit())
    if not vmids:
        return 0
    print(LIST_FORMAT % ("VMID", "Status", "Lock", "Name"))
    for vmid in vmids:
        conf = dict(containers.read_pve_conf(vmid))
        print(LIST_FORMAT % (vmid, containers.state(vmid), conf.get("lock", ""), conf["hostname"]))
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
    """Start the container; for an HA-managed one only queue the start with the HA stack.

    Upstream: proxmox/pve-container src/PVE/API2/LXC/Status.pm `vm_start`: `die "CT $vmid already
    running\n" if PVE::LXC::check_running($vmid);`, then `if (PVE::HA::Config::vm_is_ha_managed($vmid)
    && $rpcenv->{type} ne 'ha')` its `hastart` task prints `Requesting HA start for CT $vmid` and
    runs `ha-manager set ct:$vmid --state started` (exit 0 once queued, see lab/ha.py); else its
    `vzstart` task runs `PVE::LXC::Config->check_lock($conf)`, which dies `CT is locked (<lock>)`
    (proxmox/pve-guest-common src/PVE/AbstractConfig.pm `check_lock`).
    """
    vmid = _existing_vmid(args)
    if containers.state(vmid) == "running":
        raise PctError(f"CT {vmid} already running")
    if ha.is_ha_managed(vmid) and not ha.called_by_ha():
        ha.request_start(vmid)
        return 0
    lock = dict(containers.read_pve_conf(vmid)).get("lock")
    if lock:
        raise PctError(f"CT is locked ({lock})")
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
    """The vmid of a container whose conf is on this node, as `PVE::LXC::Config->load_config` requires.

    Upstream: proxmox/pve-guest-common src/PVE/AbstractConfig.pm `load_config`:
    `die "Configuration file '$cfspath' does not exist\n"` with `nodes/<this node>/lxc/<vmid>.conf`.
    """
    if not args:
        raise PctError("400 not enough arguments\npct <command> <vmid>")
    vmid = _valid_vmid(args[0])
    if not containers.pve_conf_path(vmid).exists():
        raise PctError(f"Configuration file 'nodes/{containers.this_node()}/lxc/{vmid}.conf' does not exist")
    return vmid


def _running_vmid(value: str, message: str) -> int:
    """The vmid of a container running on this node, else ``message`` (exit 255).

    Upstream: `PVE::LXC::check_running` (proxmox/pve-container src/PVE/LXC.pm) looks only at this
    node's active containers, so a vmid of another node is "not running" for push and pull.
    """
    vmid = _valid_vmid(value)
    if not containers.pve_conf_path(vmid).exists() or containers.state(vmid) != "running":
        raise PctError(message)
    return vmid


def _valid_vmid(value: str) -> int:
    if not value.isdigit() or not 100 <= int(value) <= 999_999_999:
        raise PctError("400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID")
    return int(value)


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


def _perms(perms: str | None) -> int | None:
    """`--perms` as pct reads it: octal unless prefixed `0x` (strtoul base 0 after a leading `0`)."""
    if perms is None:
        return None
    try:
        return int(perms, 16) if perms.lower().startswith("0x") else int(perms, 8)
    except ValueError:
        raise TaskError(f"invalid mode: '{perms}'") from None


def _owner_id(name: str | None, kind: str, lookup) -> int | None:
    """A numeric owner as is, a name through ``lookup``; `failed to get <kind> for: <name>` if unknown."""
    if name is None or name.isdigit():
        return None if name is None else int(name)
    try:
        return lookup(name)
    except KeyError:
        raise TaskError(f"failed to get {kind} for: {name}") from None


def _last_line(output: bytes) -> str:
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _log_call(argv: list[str]) -> None:
    """One line per call: time, sub-command, vmid (never file contents or command arguments).

    The HA stack's own start (lab/ha.py) is no `pct` call on Proxmox, so it is not logged.
    """
    if ha.called_by_ha():
        return
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
