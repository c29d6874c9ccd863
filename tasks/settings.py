"""Every key of host data, in one table, and the typed readers the tasks use to read them.

The table says for each key its type, default, meaning and who reads it. The inventory loader
rejects a key it does not list (:func:`key_problem`); the readers take the default from it and
turn a bad value into one line naming the host and the field; docs/OPERATIONS.md's settings
tables are generated from it (``python -m tasks.settings_docs`` rewrites them).

Example:

    timeout = seconds("restart_timeout")          # 300 unless the host data says otherwise
    selected = node_names("restart_nodes", every=["k3s-control", "k3s-worker-1"])
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pyinfra import host, inventory
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host

from facts.names import RANCHER_BACKEND

TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")
TIME_SPAN = re.compile(r"^(\d+(\.\d+)?\s*(us|ms|s|sec|seconds?|m|min|minutes?|h|hr|hours?|d|days?|w|weeks?)?\s*)+$")
# pyinfra's own connection data, which the inventory writes from a host's ``ssh:`` or its Proxmox host's.
CONNECTION_PREFIXES = ("ssh_", "pct_ssh_")


class Kind(Enum):
    """What a key holds; each reader reads one kind."""

    TEXT = "text"
    FLAG = "true/false"
    SECONDS = "seconds"
    WHOLE_NUMBER = "whole number"
    CHOICE = "one of"
    TIME_SPAN = "systemd time span"
    NODE_NAMES = "node names"
    MAPPING = "mapping"
    PATH = "path"
    URL = "http(s) URL"
    VALUE = "as written"


class Source(Enum):
    """Where a key's value comes from, which is also where the docs list it."""

    DEPLOY = "deploy"
    RESTART = "restart"
    REPAIR = "repair"
    REPAIR_TIMER = "repair timer"
    UPGRADE = "upgrade"
    HOST_MAINTENANCE = "host maintenance"
    SECRET = "secret"
    INVENTORY = "inventory"


@dataclass(frozen=True)
class Setting:
    """One key of host data.

    ``cluster``: read on a Proxmox host too, where only the first control node's data has it
    (repair runs there when no control node answers). ``minimum``/``maximum`` bound whole numbers.
    """

    key: str
    kind: Kind
    default: Any
    meaning: str
    readers: str
    source: Source = Source.DEPLOY
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int | None = None
    cluster: bool = False


def _table(*settings: Setting) -> dict[str, Setting]:
    return {setting.key: setting for setting in settings}


SETTINGS = _table(
    Setting("k3s_version", Kind.TEXT, None, "the k3s release: alone, the binary is downloaded from the release "
            "and checked against its published sha256; the installed binary's `k3s --version` must name it",
            "tasks/k3s_binary.py"),
    Setting("k3s_arch", Kind.CHOICE, "amd64", "the release asset to download from `k3s_version`",
            "tasks/k3s_binary.py", choices=("amd64", "arm64", "arm")),
    Setting("k3s_release_url", Kind.URL, "https://github.com/k3s-io/k3s/releases/download", "where releases are "
            "(an internal mirror of the same layout: `<url>/<version>/k3s`, `sha256sum-<arch>.txt`)",
            "tasks/k3s_binary.py"),
    Setting("k3s_binary_src", Kind.PATH, None, "a k3s binary on the deploy machine (air-gapped); exactly one "
            "of this and `k3s_binary_url`", "tasks/k3s_binary.py"),
    Setting("k3s_binary_url", Kind.URL, None, "where hosts download the k3s binary; needs `k3s_sha256`",
            "tasks/k3s_binary.py"),
    Setting("k3s_sha256", Kind.TEXT, None, "the binary's sha256 (64 lowercase hex digits); required with a URL, "
            "checked against a local file too", "tasks/k3s_binary.py"),
    Setting("k3s_unit_source", Kind.CHOICE, "auto", "`auto`: `installer` where a unit the deploy did not write is "
            "installed (the upstream installer's: adopted with its flags and env file), else `deploy`; `deploy`: the "
            "deploy writes the whole unit; `installer`: only the kmsg drop-in is written", "tasks/k3s_units.py",
            choices=("auto", "deploy", "installer")),
    Setting("k3s_config", Kind.MAPPING, {}, "extra `config.yaml` entries (lists are merged with preflight's "
            "fixes)", "tasks/k3s_config.py"),
    Setting("k3s_registration_address", Kind.TEXT, None, "with several control hosts (embedded etcd): the "
            "address servers after the first and agents join through, put in every server's `tls-san`; set it in "
            "the top-level `data:` (default: the `haproxy` host's `node_ip`, else the first control host's)",
            "inventory_schema/control_plane.py, tasks/k3s_config.py"),
    Setting("k3s_ready_timeout", Kind.SECONDS, 300, "seconds to wait for nodes Ready", "deploy.py"),
    Setting("preflight_continue", Kind.FLAG, False, "go on with a host preflight would stop", "tasks/preflight.py"),
    Setting("watcher_on_boot_sec", Kind.TIME_SPAN, "2min", "the watcher timer's first run after boot",
            "tasks/node_watcher.py"),
    Setting("watcher_interval", Kind.TIME_SPAN, "2min", "the watcher timer's pause between runs",
            "tasks/node_watcher.py"),
    Setting("watcher_remove_regardless", Kind.FLAG, False, "**unsafe**: also untaint NotReady nodes (the seed's "
            "behaviour; the controller re-adds the taints and pods land on a dead node)", "tasks/node_watcher.py"),
    Setting("watcher_alert_after", Kind.WHOLE_NUMBER, 3, "alert when repairs repeat that many runs in a row "
            "(0: never)", "tasks/node_watcher.py"),
    Setting("watcher_webhook_url", Kind.URL, None, "where the watcher posts its alerts", "tasks/node_watcher.py"),
    Setting("rancher", Kind.MAPPING, None, "Rancher's install, with the `rancher.*` fields below; without it "
            "no manifest, and a previous Rancher is deleted", "tasks/rancher.py, tasks/rancher_values.py"),
    Setting("rancher.hostname", Kind.TEXT, None, "Rancher's DNS name (default: `rancher_hostname`; must equal it "
            "when both are set)", "tasks/rancher_values.py"),
    Setting("rancher.replicas", Kind.WHOLE_NUMBER, 1, "Rancher pods", "tasks/rancher_values.py", minimum=1),
    Setting("rancher.chart_version", Kind.TEXT, None, "version from `repo`; omitted: the repo's latest",
            "tasks/rancher_values.py"),
    Setting("rancher.chart_file", Kind.PATH, None, "a local chart `.tgz` for air-gapped sites: put in k3s's "
            "`server/static/charts` on the control nodes and installed from there (excludes `chart_version`)",
            "tasks/chart_source.py"),
    Setting("rancher.repo", Kind.TEXT, "https://releases.rancher.com/server-charts/stable", "chart repository "
            "URL (https, http or oci)", "tasks/chart_source.py"),
    Setting("rancher.tls", Kind.CHOICE, "rancher", "`rancher`: Rancher's own CA, through cert-manager (installed "
            "first, `cert_manager.*`); `secret`: the secrets `rancher_tls_cert`/`rancher_tls_key` (and "
            "`rancher_tls_ca` for a private CA) become `tls-rancher-ingress`; `external`: HAProxy ends TLS with "
            "that certificate and forwards HTTP to Traefik's `haproxy_backend_http_port`",
            "tasks/rancher_values.py, tasks/haproxy.py", choices=("rancher", "secret", "external")),
    Setting("rancher.wait_seconds", Kind.SECONDS, 600, "deadline for Rancher to answer `/ping` after a change",
            "tasks/rancher_values.py"),
    Setting("rancher.min_available", Kind.WHOLE_NUMBER, 1, "Rancher pods a drain keeps (a PodDisruptionBudget "
            "manifest beside the chart, which has none); no budget when 0 or not below `rancher.replicas` (it "
            "would stop every drain)", "tasks/rancher_values.py, tasks/rancher.py"),
    Setting("traefik", Kind.MAPPING, {}, "k3s's packaged Traefik as the deploy configures it (a HelmChartConfig), "
            "with the `traefik.*` fields below", "tasks/traefik_config.py"),
    Setting("traefik.replicas", Kind.WHOLE_NUMBER, 2, "Traefik pods, spread over nodes (preferred pod "
            "anti-affinity on `kubernetes.io/hostname`), so a drain never takes the only one", "tasks/traefik_config.py",
            minimum=1),
    Setting("traefik.min_available", Kind.WHOLE_NUMBER, 1, "Traefik pods a drain keeps (the chart's "
            "PodDisruptionBudget); no budget when 0 or not below `traefik.replicas`", "tasks/traefik_config.py"),
    Setting("traefik.accept_grace_seconds", Kind.WHOLE_NUMBER, 5, "seconds a Traefik pod told to stop (drain, "
            "upgrade) keeps accepting requests while its endpoint leaves every node's rules, then it finishes those "
            "in flight (`requestAcceptGraceTimeout` of `web` and `websecure`; 0: it closes at once and requests "
            "sent to it meanwhile fail); at most 50, the chart's 60 s grace period less Traefik's 10 s graceTimeOut",
            "tasks/traefik_config.py", maximum=50),
    Setting("rancher_hostname", Kind.TEXT, None, "the name HAProxy routes by SNI",
            "tasks/haproxy.py, tasks/rancher_values.py, verify/targets.py"),
    Setting("cert_manager", Kind.MAPPING, None, "cert-manager's install, needed by `rancher.tls: rancher` (installed "
            "then even without this key, from `cert_manager.repo`)", "tasks/cert_manager.py"),
    Setting("cert_manager.chart_file", Kind.PATH, None, "a local cert-manager chart `.tgz` (air-gapped), put in "
            "`server/static/charts` (excludes `chart_version`)", "tasks/chart_source.py"),
    Setting("cert_manager.repo", Kind.TEXT, "https://charts.jetstack.io", "chart repository URL",
            "tasks/chart_source.py"),
    Setting("cert_manager.chart_version", Kind.TEXT, None, "version from `repo`; omitted: the repo's latest",
            "tasks/chart_source.py"),
    Setting("cert_manager.wait_seconds", Kind.SECONDS, 300, "deadline for cert-manager's webhook to answer",
            "tasks/cert_manager.py"),
    Setting("k3s_image_archives", Kind.VALUE, [], "image archives on the deploy machine (`.tar`, `.tar.zst`, as "
            "k3s's `k3s-airgap-images-<arch>.tar.zst`), copied to every k3s node's `agent/images` before k3s "
            "starts; k3s imports them when it starts (a changed archive restarts it)", "tasks/airgap_images.py"),
    Setting("k3s_registries", Kind.MAPPING, None, "k3s's `registries.yaml` (mirrors, configs): images from a "
            "private registry instead of archives; with it the image check trusts the mirror", "tasks/k3s_config.py"),
    Setting("haproxy_backend_port", Kind.VALUE, 443, "Traefik's HTTPS port on every k3s node (k3s's packaged "
            "Traefik: 443)", "tasks/haproxy.py"),
    Setting("haproxy_backend_http_port", Kind.VALUE, 80, "Traefik's HTTP port on every k3s node, for "
            "`rancher.tls: external`", "tasks/haproxy.py"),
    Setting("haproxy_wait_seconds", Kind.VALUE, 60, "how long to wait for the critical servers UP",
            "tasks/haproxy.py"),
    Setting("haproxy_critical_backends", Kind.VALUE, [RANCHER_BACKEND], "backends whose every server must be "
            "UP; `[]` when Rancher is not meant to be reachable yet", "tasks/haproxy.py"),
    Setting("haproxy_check_inter", Kind.VALUE, "2s", "health check interval", "tasks/haproxy.py"),
    Setting("haproxy_check_fall", Kind.VALUE, 2, "failed checks before a server is DOWN", "tasks/haproxy.py"),
    Setting("haproxy_check_rise", Kind.VALUE, 2, "passed checks before a server is UP", "tasks/haproxy.py"),
    Setting("haproxy_stats_port", Kind.VALUE, 8404, "local stats page on 127.0.0.1 (path `/stats`)",
            "tasks/haproxy.py"),
    Setting("proxmox_lxc_manage", Kind.FLAG, False, "this k3s container's LXC settings are ensured on its "
            "Proxmox host", "tasks/proxmox_lxc.py"),
    Setting("proxmox_lxc_restart", Kind.FLAG, False, "reboot the container when its LXC settings changed",
            "tasks/proxmox_lxc.py"),
    Setting("proxmox_lxc_bind_kmsg", Kind.FLAG, False, "also bind the Proxmox host's `/dev/kmsg`",
            "tasks/proxmox_lxc.py"),
    Setting("restart_after_deploy", Kind.FLAG, False, "restart + verify even when nothing changed", "deploy.py",
            source=Source.RESTART),
    Setting("restart_mode", Kind.CHOICE, "service", "`service`: restart k3s/k3s-agent; `container`: "
            "`pct reboot` (pct hosts)", "tasks/restart.py", source=Source.RESTART, choices=("service", "container")),
    Setting("restart_nodes", Kind.NODE_NAMES, None, "the nodes to restart, comma-separated or a list "
            "(default: every k3s node)", "tasks/restart.py", source=Source.RESTART),
    Setting("restart_serial", Kind.FLAG, True, "one node at a time, control nodes first; `false`: all at once "
            "(as after a Proxmox host reboot)", "tasks/restart.py", source=Source.RESTART),
    Setting("restart_timeout", Kind.SECONDS, 300, "seconds each node may take to be back", "tasks/restart.py",
            source=Source.RESTART),
    Setting("restart_verify", Kind.FLAG, True, "run `pytest verify/` afterwards", "tasks/restart.py",
            source=Source.RESTART),
    Setting("restart_allow_quorum_loss", Kind.FLAG, False, "with several control hosts: allow an all-at-once "
            "restart of at least half of them, which stops etcd's quorum (and the API) until they are back",
            "tasks/restart.py", source=Source.RESTART),
    Setting("lock_wait", Kind.SECONDS, 600, "seconds a restart waits while another run holds the cluster lock",
            "tasks/restart.py", source=Source.RESTART),
    Setting("upgrade_drain_timeout", Kind.SECONDS, 300, "seconds `kubectl drain` may take on each node (its "
            "evictions wait while a PodDisruptionBudget forbids them); past it the upgrade stops at that node",
            "tasks/upgrade.py", source=Source.UPGRADE),
    Setting("upgrade_timeout", Kind.SECONDS, 300, "seconds each node may take, after its restart on the new binary, "
            "to be Ready at the new version, its etcd member healthy and its HAProxy server UP", "tasks/upgrade.py",
            source=Source.UPGRADE),
    Setting("maintenance_node", Kind.TEXT, None, "the Proxmox node (a `proxmox_hosts` name) whose k3s containers "
            "are drained and shut down before its reboot (`make host-maintenance PVE=<node>`)",
            "tasks/host_maintenance.py", source=Source.HOST_MAINTENANCE),
    Setting("maintenance_done", Kind.FLAG, False, "after the reboot: start the containers the maintenance of "
            "`maintenance_node` shut down, wait until they are back, uncordon, verify (`DONE=1`)",
            "tasks/host_maintenance.py", source=Source.HOST_MAINTENANCE),
    Setting("maintenance_drain_timeout", Kind.SECONDS, 300, "seconds `kubectl drain` may take on each node (its "
            "evictions wait while a PodDisruptionBudget forbids them); past it the maintenance stops at that node",
            "tasks/host_maintenance.py", source=Source.HOST_MAINTENANCE),
    Setting("maintenance_shutdown_timeout", Kind.SECONDS, 120, "`pct shutdown --timeout`: seconds a container may "
            "take to stop cleanly; past it the maintenance stops at that node (the container is not killed)",
            "tasks/host_maintenance.py", source=Source.HOST_MAINTENANCE),
    Setting("maintenance_timeout", Kind.SECONDS, 300, "seconds each container may take, after `pct start`, to be "
            "back (Ready, lease renewed), then for etcd and its HAProxy server", "tasks/host_maintenance.py",
            source=Source.HOST_MAINTENANCE),
    Setting("repair_max_nodes", Kind.WHOLE_NUMBER, 1, "NotReady nodes acted on per run", "tasks/repair/__init__.py",
            source=Source.REPAIR, cluster=True),
    Setting("repair_max_unhealthy_percent", Kind.WHOLE_NUMBER, 50, "above this share of NotReady nodes only "
            "report (the cause is then likely the network or the control plane)", "tasks/repair/__init__.py",
            source=Source.REPAIR, maximum=100, cluster=True),
    Setting("repair_max_attempts", Kind.WHOLE_NUMBER, 3, "runs that may act on a node that stays NotReady",
            "tasks/repair/__init__.py", source=Source.REPAIR, minimum=1, cluster=True),
    Setting("repair_nodes", Kind.NODE_NAMES, None, "only these nodes, comma-separated or a list (default: every "
            "node)", "tasks/repair/__init__.py", source=Source.REPAIR, cluster=True),
    Setting("repair_ready_timeout", Kind.SECONDS, 240, "seconds to wait for a repaired node to be Ready",
            "tasks/repair/__init__.py", source=Source.REPAIR, cluster=True),
    Setting("repair_state_file", Kind.PATH, None, "attempt counts and totals, on the machine running repair "
            "(default `$XDG_CACHE_HOME/k3s-lxc-resilience/repair-state.json`; the timer's: "
            "`/var/lib/k3s-node-repair/state.json`)", "tasks/repair/, tasks/repair_timer.py",
            source=Source.REPAIR, cluster=True),
    Setting("repair_log_file", Kind.PATH, None, "append one line per node and a summary per run (the timer's: "
            "`/var/log/k3s-node-repair.log`)", "tasks/repair/, tasks/repair_timer.py",
            source=Source.REPAIR, cluster=True),
    Setting("repair_textfile", Kind.PATH, None, "Prometheus textfile for node_exporter (the timer's: "
            "`/var/lib/node_exporter/textfile_collector/k3s_node_repair.prom`)",
            "tasks/repair/, tasks/repair_timer.py", source=Source.REPAIR, cluster=True),
    Setting("repair_timer", Kind.FLAG, False, "on a Proxmox host that is this machine (`local: true`): run the "
            "repair on a timer; `false` removes a timer installed before", "tasks/repair_timer.py",
            source=Source.REPAIR_TIMER),
    Setting("repair_timer_interval", Kind.TIME_SPAN, "2min", "the pause between repair runs (longer than zero)",
            "tasks/repair_timer.py", source=Source.REPAIR_TIMER),
    Setting("k3s_token", Kind.TEXT, None, "the cluster's join token, one line (`secrets_file` or `K3S_TOKEN`)",
            "tasks/k3s_config.py", source=Source.SECRET),
    Setting("rancher_bootstrap_password", Kind.TEXT, None, "Rancher's first admin password, at least 12 "
            "characters (`secrets_file` or `RANCHER_BOOTSTRAP_PASSWORD`); omitted: Rancher generates one",
            "tasks/rancher_values.py", source=Source.SECRET),
    Setting("rancher_tls_cert", Kind.TEXT, None, "PEM certificate (chain) for `rancher_hostname`, for "
            "`rancher.tls` `secret` and `external`", "tasks/rancher_tls.py", source=Source.SECRET),
    Setting("rancher_tls_key", Kind.TEXT, None, "its PEM private key", "tasks/rancher_tls.py", source=Source.SECRET),
    Setting("rancher_tls_ca", Kind.TEXT, None, "PEM CA certificate when the certificate's CA is private (Rancher "
            "then gets `privateCA` and `tls-ca`; verify trusts it)", "tasks/rancher_tls.py", source=Source.SECRET),
    Setting("node_name", Kind.TEXT, None, "the host's `name`: its Kubernetes node name",
            "tasks/*, verify/targets.py", source=Source.INVENTORY),
    Setting("node_ip", Kind.TEXT, None, "the host's `node_ip`", "tasks/k3s_config.py, tasks/haproxy.py",
            source=Source.INVENTORY),
    Setting("k3s_role", Kind.CHOICE, None, "`server` in `k3s_control`, `agent` in `k3s_workers`",
            "deploy.py, tasks/*", source=Source.INVENTORY, choices=("server", "agent")),
    Setting("k3s_server_url", Kind.TEXT, None, "`https://<first control node_ip>:6443`; with several control hosts "
            "`https://<k3s_registration_address>:6443`",
            "tasks/k3s_config.py, tasks/repair/__init__.py", source=Source.INVENTORY),
    Setting("pct_node", Kind.TEXT, None, "the host's `pct.node`", "tasks/proxmox_lxc.py, tasks/repair/access.py",
            source=Source.INVENTORY),
    Setting("pct_vmid", Kind.VALUE, None, "the host's `pct.vmid`", "connectors/pct.py, tasks/*",
            source=Source.INVENTORY),
    Setting("pct_command", Kind.TEXT, "pct", "its Proxmox host's `pct_command`", "connectors/*, tasks/*",
            source=Source.INVENTORY),
)
SECRET_KEYS = frozenset(key for key, setting in SETTINGS.items() if setting.source is Source.SECRET)


class DeployDataError(PyinfraError):
    """Bad host data; the message is one line naming the host and the field."""


class InvalidField(ValueError):
    """A value that cannot be deployed, found by pure validation (no host context); ``field`` is
    its inventory key. Operations turn it into :func:`data_error`'s one line naming the host.

    Example:
        raise InvalidField("rancher.replicas", "must be an integer >= 1, got 0")
    """

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"field {field_name}: {problem}")
        self.field = field_name
        self.problem = problem


def data_section(data: Mapping[str, Any], name: str, fields: Iterable[str], required: bool = False) -> Mapping[str, Any]:
    """Host data ``name`` as a mapping of known fields only (absent: empty, unless ``required``);
    raises ``InvalidField`` naming the field.

    Example:
        data_section({"traefik": {"replicas": 3}}, "traefik", ("replicas",)) == {"replicas": 3}
    """
    settings = data.get(name) if required else (data.get(name) or {})
    if not isinstance(settings, Mapping):
        raise InvalidField(name, f"must be a mapping, got {type(settings).__name__}")
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise InvalidField(f"{name}.{unknown[0]}", "unknown field")
    return settings


def data_error(key: str, problem: str, of: Host | None = None) -> DeployDataError:
    """``deploy: host <node_name>: field <key>: <problem>`` for ``of`` (default: the current host)."""
    target = of if of is not None else host
    return DeployDataError(f"deploy: host {target.data.get('node_name') or target.name}: field {key}: {problem}")


def key_problem(key: str) -> str:
    """Empty for a key an inventory's ``data:`` may set, else why not, in one line.

    Example:
        key_problem("watcher_intervall") == "unknown setting (did you mean watcher_interval?)"
    """
    setting = SETTINGS.get(key)
    if setting is not None and "." in key:
        parent, _, field_name = key.partition(".")
        return f"a field of {parent}: set it as {parent}: {{{field_name}: ...}}"
    if setting is not None:
        return "" if setting.source is not Source.INVENTORY else "set by the inventory from the host's entry"
    if key.startswith(CONNECTION_PREFIXES):
        return "set by the inventory from ssh: or pct:"
    settable = [name for name, candidate in SETTINGS.items() if candidate.source is not Source.INVENTORY and "." not in name]
    close = difflib.get_close_matches(key, settable, n=1)
    return f"unknown setting (did you mean {close[0]}?)" if close else "unknown setting"


def fields_of(parent: str) -> dict[str, Setting]:
    """The table's fields of a mapping setting, by field name.

    Example:
        fields_of("rancher")["replicas"].default == 1
    """
    return {key.partition(".")[2]: setting for key, setting in SETTINGS.items() if key.startswith(f"{parent}.")}


def check_command_line_data() -> None:
    """Refuse a ``--data`` key that is neither a setting nor pyinfra's connection data, as the
    inventory loader refuses one in ``data:``.

    Example:
        check_command_line_data()   # at the top of a deploy file
    """
    for key in sorted(inventory.get_override_data()):
        if key not in SETTINGS and not key.startswith(CONNECTION_PREFIXES):
            raise DeployDataError(f"deploy: field {key} (--data): {key_problem(key)}")


# --- readers ------------------------------------------------------------------------------------


def _setting(key: str, kind: Kind) -> Setting:
    setting = SETTINGS[key]
    assert setting.kind is kind, f"{key} is {setting.kind.value}, not {kind.value}"
    return setting


def _value(setting: Setting, of: Host | None) -> Any:
    target = of if of is not None else host
    value = target.data.get(setting.key)
    if value is None and setting.cluster:
        controls = inventory.get_group("k3s_control", [])
        value = controls[0].data.get(setting.key) if controls else None
    return setting.default if value is None else value


def value(key: str, of: Host | None = None) -> Any:
    """A key's value as written (or its default), for values another program judges (HAProxy's
    config) or a dedicated validator checks (``tasks.rancher_values``).

    Example:
        value("haproxy_check_inter") == "2s"
    """
    return _value(SETTINGS[key], of)


def required_text(key: str) -> str:
    """A non-empty string; its absence is ``missing``.

    Example:
        required_text("node_ip") == "10.213.0.11"
    """
    found = _value(_setting(key, Kind.TEXT), None)
    if found is None or found == "":
        raise data_error(key, "missing")
    if not isinstance(found, str):
        raise data_error(key, f"must be a str, got {type(found).__name__}")
    return found


def flag(key: str, of: Host | None = None) -> bool:
    """``true``/``false``; ``--data`` may give them as words (``yes``, ``no``, ``1``, ``0``).

    Example:
        flag("restart_serial") is True
    """
    found = _value(_setting(key, Kind.FLAG), of)
    if isinstance(found, bool):
        return found
    if str(found).lower() in TRUE_WORDS + FALSE_WORDS:
        return str(found).lower() in TRUE_WORDS
    raise data_error(key, f"{found!r} is not true or false", of)


def seconds(key: str) -> int:
    """A positive whole number of seconds.

    Example:
        seconds("restart_timeout") == 300
    """
    found = _value(_setting(key, Kind.SECONDS), None)
    if isinstance(found, bool) or not str(found).isdigit() or int(found) == 0:
        raise data_error(key, f"{found!r} is not a positive number of seconds")
    return int(found)


def whole_number(key: str) -> int:
    """A whole number within the table's bounds.

    Example:
        whole_number("repair_max_nodes") == 1
    """
    setting = _setting(key, Kind.WHOLE_NUMBER)
    found = _value(setting, None)
    if isinstance(found, bool) or not str(found).isdigit():
        raise data_error(key, f"{found!r} is not a whole number")
    number = int(found)
    if number < setting.minimum or (setting.maximum is not None and number > setting.maximum):
        upper = setting.maximum if setting.maximum is not None else "any"
        raise data_error(key, f"{number} is not between {setting.minimum} and {upper}")
    return number


def one_of(key: str) -> str:
    """One of the table's choices.

    Example:
        one_of("k3s_unit_source") == "deploy"
    """
    setting = _setting(key, Kind.CHOICE)
    found = _value(setting, None)
    if found not in setting.choices:
        raise data_error(key, f"{found!r} is not one of {', '.join(setting.choices)}")
    return found


def time_span(key: str) -> str:
    """A systemd time span such as ``2min`` or ``90s``, as written.

    Example:
        time_span("watcher_interval") == "2min"
    """
    found = str(_value(_setting(key, Kind.TIME_SPAN), None))
    if not TIME_SPAN.match(found):
        raise data_error(key, f"{found!r} is not a systemd time span such as 2min or 90s")
    return found


def node_names(key: str, every: list[str] | None = None) -> list[str]:
    """Node names, comma-separated or a list; unset: ``every`` (or none). With ``every``, a name
    outside it is an error.

    Example:
        node_names("restart_nodes", every=["k3s-control", "k3s-worker-1"]) == ["k3s-control", "k3s-worker-1"]
    """
    found = _value(_setting(key, Kind.NODE_NAMES), None)
    if found is None or found == "":
        return list(every or [])
    listed = found.split(",") if isinstance(found, str) else found
    if not isinstance(listed, list) or not all(isinstance(name, str) for name in listed):
        raise data_error(key, "must be node names, comma-separated or a list")
    names = [name.strip() for name in listed if name.strip()]
    unknown = sorted(set(names) - set(every)) if every is not None else []
    if unknown:
        raise data_error(key, f"{', '.join(unknown)} not among the k3s nodes {', '.join(every or [])}")
    return names


def mapping(key: str) -> Mapping[str, Any]:
    """A mapping (``{}`` when unset and the table has no default).

    Example:
        mapping("k3s_config") == {}
    """
    found = _value(_setting(key, Kind.MAPPING), None) or {}
    if not isinstance(found, Mapping):
        raise data_error(key, "must be a mapping")
    return found


def path(key: str) -> Path | None:
    """A path on the machine running the deploy, ``~`` expanded; ``None`` when unset.

    Example:
        path("repair_log_file") is None
    """
    found = _value(_setting(key, Kind.PATH), None)
    return Path(str(found)).expanduser() if found else None


def url(key: str) -> str:
    """An http(s) URL without spaces; empty when unset.

    Example:
        url("watcher_webhook_url") == ""
    """
    found = str(_value(_setting(key, Kind.URL), None) or "")
    if found and not re.match(r"^https?://\S+$", found):
        raise data_error(key, "must be an http(s) URL without spaces")
    return found
