"""
Rancher's inventory values, validated, and the k3s manifest that installs Rancher from them.

Pure: nothing here touches a host, so a bad value fails the run before anything is written.

Data (host data, from the inventory's ``data:``): ``rancher`` (a mapping, whose presence turns the
Rancher install on) with the ``rancher.*`` fields, ``rancher_hostname``, ``haproxy_backend_port`` and
the secret ``rancher_bootstrap_password``: their types, defaults and meaning are in ``tasks.settings``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from facts.rancher import EXPOSURE_SERVICE
from tasks import render
from tasks.settings import SETTINGS, InvalidField, fields_of

FIELDS = fields_of("rancher")
NODE_PORTS = range(30000, 32768)
MIN_PASSWORD_LENGTH = 12
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class RancherValues:
    hostname: str
    replicas: int
    repo: str
    chart_version: str | None
    chart_content: str | None
    tls: str
    exposure: str
    port: int
    wait_seconds: float
    bootstrap_password: str | None = field(default=None, repr=False)


def is_dns_name(name: str) -> bool:
    """A lowercase RFC 1123 name with at least two labels, as Rancher's server URL needs."""
    labels = name.split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(_DNS_LABEL.match(label) for label in labels)


def _hostname(settings: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    routed = data.get("rancher_hostname")
    hostname = settings.get("hostname", routed)
    if not isinstance(hostname, str) or not is_dns_name(hostname):
        raise InvalidField("rancher.hostname", f"not a DNS name: {hostname!r}")
    if routed is not None and hostname != routed:
        raise InvalidField("rancher.hostname", f"{hostname!r} differs from rancher_hostname {routed!r}")
    return hostname


def _replicas(settings: Mapping[str, Any]) -> int:
    replicas = settings.get("replicas", FIELDS["replicas"].default)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise InvalidField("rancher.replicas", f"must be an integer >= 1, got {replicas!r}")
    return replicas


def _choice(settings: Mapping[str, Any], key: str) -> str:
    choices = FIELDS[key].choices
    value = settings.get(key, FIELDS[key].default)
    if value not in choices:
        raise InvalidField(f"rancher.{key}", f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _port(data: Mapping[str, Any], exposure: str) -> int:
    port = data.get("haproxy_backend_port", SETTINGS["haproxy_backend_port"].default)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidField("haproxy_backend_port", f"must be a port 1-65535, got {port!r}")
    if exposure == "nodeport" and port not in NODE_PORTS:
        raise InvalidField(
            "haproxy_backend_port",
            f"{port} is outside the NodePort range 30000-32767 (rancher.exposure is nodeport)",
        )
    return port


def _chart_content(settings: Mapping[str, Any]) -> str | None:
    chart_file = settings.get("chart_file")
    if chart_file is None:
        return None
    if "chart_version" in settings:
        raise InvalidField("rancher.chart_file", "set chart_file or chart_version, not both")
    path = Path(str(chart_file)).expanduser()
    if path.suffix != ".tgz" or not path.is_file():
        raise InvalidField("rancher.chart_file", f"not a chart .tgz file: {str(path)!r}")
    return base64.b64encode(path.read_bytes()).decode()


def _chart_version(settings: Mapping[str, Any]) -> str | None:
    version = settings.get("chart_version")
    if version is not None and (not isinstance(version, str) or not re.fullmatch(r"v?\d+\.\d+\.\d+\S*", version)):
        raise InvalidField("rancher.chart_version", f"must be a version string like '2.9.3', got {version!r}")
    return version


def _wait_seconds(settings: Mapping[str, Any]) -> float:
    seconds = settings.get("wait_seconds", FIELDS["wait_seconds"].default)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise InvalidField("rancher.wait_seconds", f"must be a number of seconds > 0, got {seconds!r}")
    return float(seconds)


def _password(data: Mapping[str, Any]) -> str | None:
    password = data.get("rancher_bootstrap_password")
    if password is not None and len(str(password)) < MIN_PASSWORD_LENGTH:
        # the value itself is a secret: only its length is wrong in the message
        raise InvalidField("rancher_bootstrap_password", f"shorter than {MIN_PASSWORD_LENGTH} characters")
    return None if password is None else str(password)


def rancher_values(data: Mapping[str, Any]) -> RancherValues:
    """Validate a host's data into ``RancherValues``; raises ``InvalidField`` naming the field."""
    settings = data.get("rancher")
    if not isinstance(settings, Mapping):
        raise InvalidField("rancher", f"must be a mapping, got {type(settings).__name__}")
    unknown = sorted(set(settings) - set(FIELDS))
    if unknown:
        raise InvalidField(f"rancher.{unknown[0]}", "unknown field")
    exposure = _choice(settings, "exposure")
    repo = settings.get("repo", FIELDS["repo"].default)
    if not isinstance(repo, str) or not repo.startswith(("https://", "http://", "oci://")):
        raise InvalidField("rancher.repo", f"must be a chart repository URL, got {repo!r}")
    return RancherValues(
        hostname=_hostname(settings, data),
        replicas=_replicas(settings),
        repo=repo,
        chart_version=_chart_version(settings),
        chart_content=_chart_content(settings),
        tls=_choice(settings, "tls"),
        exposure=exposure,
        port=_port(data, exposure),
        wait_seconds=_wait_seconds(settings),
        bootstrap_password=_password(data),
    )


def chart_values(values: RancherValues) -> dict[str, Any]:
    """The Rancher chart's values (``valuesContent``)."""
    chart: dict[str, Any] = {"hostname": values.hostname, "replicas": values.replicas}
    if values.tls == "external":
        chart["tls"] = "external"
    else:
        chart["ingress"] = {"tls": {"source": values.tls}}
    if values.bootstrap_password is not None:
        chart["bootstrapPassword"] = values.bootstrap_password
    return chart


def render_manifest(values: RancherValues) -> str:
    """``tasks/templates/rancher.yaml.j2``: Namespace, HelmChart and the Service HAProxy reaches."""
    return render(
        "rancher.yaml.j2",
        values=values,
        service_name=EXPOSURE_SERVICE,
        values_content=yaml.safe_dump(chart_values(values), sort_keys=False).rstrip("\n"),
    )
