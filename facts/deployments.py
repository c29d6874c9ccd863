"""Which Deployments of the cluster are rolled out (what ``kubectl rollout status`` waits for), read with
``k3s kubectl`` on a server: the rolling upgrade notes them before it drains a node and waits for the
same ones at its end (tasks/upgrade.py), so it ends on a cluster that serves as it did before."""

from __future__ import annotations

import json

from pyinfra.api import FactBase
from pyinfra.api.command import StringCommand

from facts.chart_status import rolled_out
from facts.cluster_nodes import API_DOWN


def rolled_out_names(listing: dict) -> frozenset[str]:
    """``namespace/name`` of every rolled-out Deployment in a ``kubectl get deployments -A -o json`` list.

    Example:
        rolled_out_names({"items": [rancher_deployment]})   # frozenset({"cattle-system/rancher"})
    """
    return frozenset(f"{item['metadata']['namespace']}/{item['metadata']['name']}"
                     for item in listing.get("items") or [] if rolled_out(item))


def deployments_command() -> StringCommand:
    return StringCommand("k3s", "kubectl", "get", "deployments", "-A", "-o", "json", "--request-timeout=10s")


class RolledOutDeployments(FactBase["frozenset[str] | None"]):
    """
    ``namespace/name`` of the cluster's rolled-out Deployments; ``None`` while the API does not answer.

    .. code:: python

        host.get_fact(RolledOutDeployments)
        frozenset({"cattle-system/rancher", "kube-system/traefik", "kube-system/coredns"})
    """

    def command(self) -> str:
        # All or nothing: a request that fails half-way must not leave partial JSON before the marker.
        return (f'listed=$({deployments_command()} 2>/dev/null) && printf "%s\\n" "$listed" || echo {API_DOWN}')

    def process(self, output: list[str]) -> frozenset[str] | None:
        text = "\n".join(output)
        return None if text.strip() == API_DOWN else rolled_out_names(json.loads(text))
