"""Command-line flags, config file and environment of `k3s server` / `k3s agent`, merged like k3s does.

Precedence (lowest first): built-in defaults, `/etc/rancher/k3s/config.yaml` (+ `config.yaml.d/*.yaml`),
environment (`K3S_TOKEN`, `K3S_URL`, `K3S_NODE_NAME`), command-line flags.

Example:
    options = parse("server", ["--node-ip", "10.213.0.101", "--disable", "servicelb"])
"""

from __future__ import annotations

import dataclasses
import glob
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_CONFIG = "/etc/rancher/k3s/config.yaml"

# flag name -> kind; kind is "str", "bool" or "list"
FLAGS: dict[str, str] = {
    "server": "str", "token": "str", "token-file": "str", "node-ip": "str", "node-name": "str",
    "node-label": "list", "node-taint": "list", "data-dir": "str", "write-kubeconfig": "str",
    "write-kubeconfig-mode": "str", "https-listen-port": "str", "bind-address": "str",
    "advertise-address": "str", "disable": "list", "disable-kube-proxy": "bool",
    "flannel-backend": "str", "kube-controller-manager-arg": "list", "kube-apiserver-arg": "list",
    "kube-proxy-arg": "list", "kubelet-arg": "list", "cluster-cidr": "str", "service-cidr": "str",
    "snapshotter": "str", "tls-san": "list", "cluster-init": "bool", "cluster-reset": "bool",
    "cluster-reset-restore-path": "str", "etcd-snapshot-dir": "str",
}
SHORT_FLAGS = {"-s": "server", "-t": "token", "-o": "write-kubeconfig", "-d": "data-dir"}
DEFAULTS: dict[str, Any] = {
    "data-dir": "/var/lib/rancher/k3s", "write-kubeconfig": "/etc/rancher/k3s/k3s.yaml",
    "write-kubeconfig-mode": "0600", "https-listen-port": "6443", "bind-address": "0.0.0.0",
    "flannel-backend": "vxlan", "cluster-cidr": "10.42.0.0/16", "service-cidr": "10.43.0.0/16",
    "snapshotter": "overlayfs",
}
ENVIRONMENT = {"K3S_TOKEN": "token", "K3S_URL": "server", "K3S_NODE_NAME": "node-name"}


class OptionsError(Exception):
    """Bad flag or config value; the message is one line naming the flag."""


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything `k3s server` / `k3s agent` was asked to do."""

    role: str
    hostname: str
    config_file: str
    server: str
    token: str
    node_ip: str
    node_name: str
    node_labels: tuple[str, ...]
    node_taints: tuple[str, ...]
    data_dir: str
    write_kubeconfig: str
    write_kubeconfig_mode: int
    https_listen_port: int
    bind_address: str
    advertise_address: str
    disable: tuple[str, ...]
    disable_kube_proxy: bool
    flannel_backend: str
    kube_controller_manager_args: Mapping[str, str]
    kube_apiserver_args: Mapping[str, str]
    kube_proxy_args: Mapping[str, str]
    kubelet_args: Mapping[str, str]
    cluster_cidr: str
    service_cidr: str
    snapshotter: str
    tls_san: tuple[str, ...]
    cluster_init: bool
    cluster_reset: bool
    cluster_reset_restore_path: str
    etcd_snapshot_dir: str

    @property
    def server_dir(self) -> str:
        return os.path.join(self.data_dir, "server")

    @property
    def embedded_etcd(self) -> bool:
        """A server of an HA cluster keeps its state in embedded etcd: the first one has
        `cluster-init`, the others `server:` (docs.k3s.io/datastore/ha-embedded); a lone server
        keeps sqlite. A server whose etcd data dir exists stays on etcd (k3s-io/k3s
        pkg/cluster/managed.go `start`: `IsInitialized`)."""
        return self.role == "server" and bool(
            self.cluster_init or self.server or self.cluster_reset
            or os.path.isdir(os.path.join(self.server_dir, "db", "etcd", "member")))

    @property
    def snapshot_dir(self) -> str:
        """k3s-io/k3s pkg/etcd/etcd.go `snapshotDir`: etcd-snapshot-dir, else <data-dir>/server/db/snapshots."""
        return self.etcd_snapshot_dir or os.path.join(self.server_dir, "db", "snapshots")


def parse(role: str, argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Options:
    """Merge defaults, config file(s), environment and `argv` into `Options`."""
    environ = os.environ if environ is None else environ
    flags, config_file = _parse_argv(argv)
    config_file = config_file or environ.get("K3S_CONFIG_FILE") or DEFAULT_CONFIG
    values: dict[str, Any] = dict(DEFAULTS)
    values.update(_read_config(config_file))
    for variable, key in ENVIRONMENT.items():
        if environ.get(variable):
            values[key] = environ[variable]
    for key, value in flags.items():
        values[key] = value
    return _build(role, config_file, values)


def _parse_argv(argv: Sequence[str]) -> tuple[dict[str, Any], str]:
    flags: dict[str, Any] = {}
    config_file = ""
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, has_value, value = arg.partition("=")
        name = SHORT_FLAGS.get(name, name)
        if name in ("--config", "-c"):
            config_file = value if has_value else _take(args, name)
            continue
        key = name.lstrip("-")
        if not name.startswith("-") or key not in FLAGS:
            raise OptionsError(f"flag provided but not defined: {arg}")
        kind = FLAGS[key]
        if kind == "bool":
            flags[key] = _bool(value, key) if has_value else True
            continue
        value = value if has_value else _take(args, name)
        if kind == "list":
            flags.setdefault(key, []).append(value)
        else:
            flags[key] = value
    return flags, config_file


def _take(args: list[str], name: str) -> str:
    if not args:
        raise OptionsError(f"flag needs an argument: {name}")
    return args.pop(0)


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise OptionsError(f"invalid boolean value {value!r} for {key}")


def _read_config(path: str) -> dict[str, Any]:
    """Config file plus its `.d` drop-ins; unknown keys warn and are ignored, as k3s does."""
    paths = [path] if os.path.exists(path) else []
    paths += sorted(glob.glob(os.path.join(path + ".d", "*.yaml")))
    values: dict[str, Any] = {}
    for config_path in paths:
        import yaml  # only needed when a config file exists, so `--version` works without it

        with open(config_path, encoding="utf-8") as handle:
            try:
                data = yaml.safe_load(handle) or {}
            except yaml.YAMLError as error:
                raise OptionsError(f"{config_path}: invalid YAML: {error}".splitlines()[0]) from error
        if not isinstance(data, dict):
            raise OptionsError(f"{config_path}: expected a mapping of flag names")
        for key, value in data.items():
            appending = str(key).endswith("+")
            key = str(key).rstrip("+")
            if key not in FLAGS:
                print(f'level=warning msg="Unknown flag --{key} found in config.yaml, skipping"',
                      file=sys.stderr)
                continue
            if FLAGS[key] == "list":
                items = [str(item) for item in (value if isinstance(value, list) else [value])]
                values[key] = (values.get(key, []) if appending else []) + items
            elif FLAGS[key] == "bool":
                values[key] = _bool(value, key)
            else:
                values[key] = str(value)
    return values


def _arg_map(items: Sequence[str], key: str) -> dict[str, str]:
    """`["node-monitor-grace-period=20s"]` -> `{"node-monitor-grace-period": "20s"}`."""
    result = {}
    for item in items:
        name, has_value, value = item.lstrip("-").partition("=")
        if not name:
            raise OptionsError(f"invalid {key} value {item!r}: expected key=value")
        result[name] = value if has_value else "true"
    return result


def _port(value: Any) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise OptionsError(f"invalid https-listen-port {value!r}")
    return port


def _mode(value: Any) -> int:
    try:
        return int(str(value), 8)
    except ValueError as error:
        raise OptionsError(f"invalid write-kubeconfig-mode {value!r}: expected octal") from error


def _token(values: Mapping[str, Any]) -> str:
    if values.get("token"):
        return str(values["token"]).strip()
    if values.get("token-file"):
        try:
            with open(values["token-file"], encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as error:
            raise OptionsError(f"token-file {values['token-file']}: {error.strerror}") from error
    return ""


def _build(role: str, config_file: str, values: Mapping[str, Any]) -> Options:
    hostname = socket.gethostname()
    disable = tuple(item.strip() for entry in values.get("disable", []) for item in entry.split(",")
                    if item.strip())
    return Options(
        role=role,
        hostname=hostname,
        config_file=config_file,
        server=str(values.get("server", "")),
        token=_token(values),
        node_ip=str(values.get("node-ip", "")),
        node_name=str(values.get("node-name") or hostname).lower(),
        node_labels=tuple(values.get("node-label", [])),
        node_taints=tuple(values.get("node-taint", [])),
        data_dir=str(values["data-dir"]),
        write_kubeconfig=str(values["write-kubeconfig"]),
        write_kubeconfig_mode=_mode(values["write-kubeconfig-mode"]),
        https_listen_port=_port(values["https-listen-port"]),
        bind_address=str(values["bind-address"]),
        advertise_address=str(values.get("advertise-address", "")),
        disable=disable,
        disable_kube_proxy=_bool(values.get("disable-kube-proxy", False), "disable-kube-proxy"),
        flannel_backend=str(values["flannel-backend"]),
        kube_controller_manager_args=_arg_map(values.get("kube-controller-manager-arg", []),
                                              "kube-controller-manager-arg"),
        kube_apiserver_args=_arg_map(values.get("kube-apiserver-arg", []), "kube-apiserver-arg"),
        kube_proxy_args=_arg_map(values.get("kube-proxy-arg", []), "kube-proxy-arg"),
        kubelet_args=_arg_map(values.get("kubelet-arg", []), "kubelet-arg"),
        cluster_cidr=str(values["cluster-cidr"]),
        service_cidr=str(values["service-cidr"]),
        snapshotter=str(values["snapshotter"]),
        tls_san=tuple(item.strip() for entry in values.get("tls-san", []) for item in entry.split(",")
                      if item.strip()),
        cluster_init=_bool(values.get("cluster-init", False), "cluster-init"),
        cluster_reset=_bool(values.get("cluster-reset", False), "cluster-reset"),
        cluster_reset_restore_path=str(values.get("cluster-reset-restore-path", "")),
        etcd_snapshot_dir=str(values.get("etcd-snapshot-dir", "")),
    )
