"""Ensures ``/etc/rancher/k3s/config.yaml``, the token file and, with inventory ``k3s_registries``,
``/etc/rancher/k3s/registries.yaml`` (k3s docs "Private Registry Configuration"), all 0600: the
registries file may hold registry credentials.

The token lives in its own file (``token-file``) uploaded from memory, so it is never on a command
line, in the config file's diff or in pyinfra's output.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import yaml
from pyinfra import host
from pyinfra.api import operation

from facts.managed_state import Managed, managing
from tasks.control_plane import api_behind_haproxy, first_server, is_ha, registration_address
from tasks.desired_files import DesiredFile, desired_files, text_file
from tasks.settings import data_error, mapping, one_of, required_text, value

CONFIG = "/etc/rancher/k3s/config.yaml"
TOKEN_FILE = "/etc/rancher/k3s/token"
REGISTRIES = "/etc/rancher/k3s/registries.yaml"
DEPLOY_OWNED = frozenset({"node-name", "node-ip", "server", "token", "token-file", "cluster-init"})
# HAProxy's health check of the API servers is an anonymous GET /readyz: k3s turns anonymous requests
# off (pkg/daemons/control/server.go: anonymous-auth=false), and with them on, RBAC's default
# system:public-info-viewer binding lets them read only /healthz, /livez, /readyz and /version.
HAPROXY_CHECK_ARGS = ["anonymous-auth=true"]
HEADER = "# Managed by k3s-lxc-resilience (deploy.py); set extra entries in inventory data k3s_config.\n"


def config_entries(extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The host's k3s config: what the deploy owns, then ``extra`` (e.g. preflight fixes), then
    inventory ``k3s_config``. List values of ``extra`` and ``k3s_config`` are joined, so an
    operator's entry never drops a fix the deploy needs."""
    role = one_of("k3s_role")
    entries: dict[str, Any] = {
        "node-name": required_text("node_name"),
        "node-ip": required_text("node_ip"),
        "token-file": TOKEN_FILE,
    }
    if role == "agent":
        entries["server"] = required_text("k3s_server_url")
    if role == "server" and is_ha():
        entries.update(embedded_etcd_entries())
    operator = mapping("k3s_config")
    for source in (extra or {}, operator):
        for key, wanted in source.items():
            if str(key).rstrip("+") in DEPLOY_OWNED:
                raise data_error(f"k3s_config.{key}", "is set by the deploy from the inventory")
            current = entries.get(key)
            if isinstance(current, list) and isinstance(wanted, list):
                entries[key] = current + [item for item in wanted if item not in current]
            else:
                entries[key] = wanted
    return entries


def embedded_etcd_entries() -> dict[str, Any]:
    """A server of several (docs.k3s.io/datastore/ha-embedded): the first starts the etcd cluster
    (``cluster-init``), the others join it at the registration address, and every server's
    certificate names that address (``tls-san``), since clients reach it through HAProxy's TCP
    pass-through. A lone server gets none of these (k3s's default datastore, today's config)."""
    entries: dict[str, Any] = {"tls-san": [registration_address()]}
    if host == first_server():
        entries["cluster-init"] = True
    else:
        entries["server"] = required_text("k3s_server_url")
    if api_behind_haproxy():
        entries["kube-apiserver-arg"] = list(HAPROXY_CHECK_ARGS)
    return entries


def config_files(extra: Mapping[str, Any] | None = None) -> list[DesiredFile]:
    """``config.yaml``, the token file and ``registries.yaml`` (when set) with their exact content."""
    if not value("k3s_token"):
        raise data_error("k3s_token", "missing: set it in the secrets_file or the environment variable K3S_TOKEN")
    token = str(value("k3s_token")).strip()
    if not token or "\n" in token:
        raise data_error("k3s_token", "must be one non-empty line")
    config = HEADER + yaml.safe_dump(config_entries(extra), default_flow_style=False, sort_keys=True)
    files = [
        text_file(CONFIG, config, mode="600"),
        text_file(TOKEN_FILE, token + "\n", mode="600", secret=True),
    ]
    registries = mapping("k3s_registries")
    if registries:
        # secret: mirrors' auth entries hold passwords
        files.append(text_file(REGISTRIES, HEADER.replace("k3s_config", "k3s_registries")
                               + yaml.safe_dump(dict(registries), sort_keys=True), mode="600", secret=True))
    return files


@managing(lambda files, **_: Managed(paths=[desired.path for desired in files]))
@operation()
def k3s_config(files: list[DesiredFile]) -> Generator[Any, None, None]:
    """
    Write the k3s config file and token file when their content or mode differs (one fact call).

    + files: from ``config_files()``, which validates host data

    **Example:**

    .. code:: python

        k3s_config(name="Configure k3s", files=config_files())
    """
    yield from desired_files(files, "k3s config and token file are in place")
