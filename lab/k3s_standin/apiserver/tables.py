"""Server-side `Table` rendering (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).

Columns and cell text follow kube-apiserver's printers (pkg/printers/internalversion) so that
`kubectl get` and `kubectl get -o wide` print what they print against k3s. Custom resources print
their CRD's additionalPrinterColumns, evaluated as JSONPath (the subset CRDs use: fields, `[n]`,
`[*]`, `[?(@.field=="value")]`), or only their age (apiextensions-apiserver pkg/registry/customresource/
tableconvertor).

Example:
    table = to_table(node_resource, [node], "123", "Metadata")
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from typing import Any

from k3s_standin.apiserver.resources import Resource

Obj = dict[str, Any]
Column = tuple[str, str, int, str]  # name, type, priority, description
NAME_COLUMN: Column = ("Name", "string", 0, "Name must be unique within a namespace.")
AGE_COLUMN: Column = ("Age", "string", 0, "CreationTimestamp is a timestamp representing the server "
                                          "time when this object was created.")


def human_duration(seconds: int) -> str:
    """apimachinery's duration.HumanDuration."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    moment = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return human_duration(int((datetime.datetime.now(datetime.timezone.utc) - moment).total_seconds()))


def _join(values: list[str], empty: str = "<none>") -> str:
    return ",".join(values) if values else empty


def _labels_text(labels: Obj | None) -> str:
    return _join([f"{k}={v}" for k, v in sorted((labels or {}).items())])


def _node(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    ready = [c for c in status.get("conditions", []) if c.get("type") == "Ready"]
    states = [("Ready" if ready[0].get("status") == "True" else "NotReady")] if ready else ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    labels = obj["metadata"].get("labels") or {}
    roles = sorted({k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")} |
                   ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set()))
    info = status.get("nodeInfo", {})

    def address(kind: str) -> str:
        return next((a["address"] for a in status.get("addresses", []) if a.get("type") == kind), "<none>")

    return [obj["metadata"]["name"], ",".join(states), _join([r for r in roles if r]),
            age(obj["metadata"].get("creationTimestamp")), info.get("kubeletVersion", ""),
            address("InternalIP"), address("ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


def _pod(obj: Obj) -> list[Any]:
    spec, status, meta = obj.get("spec", {}), obj.get("status", {}), obj["metadata"]
    reason = status.get("reason") or status.get("phase", "")
    restarts, ready, running = 0, 0, False
    for container in reversed(status.get("containerStatuses", [])):
        restarts += int(container.get("restartCount", 0))
        state = container.get("state", {})
        waiting, terminated = state.get("waiting") or {}, state.get("terminated")
        if waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated is not None:
            reason = terminated.get("reason") or (f"Signal:{terminated['signal']}" if terminated.get("signal")
                                                  else f"ExitCode:{terminated.get('exitCode', 0)}")
        elif container.get("ready") and state.get("running") is not None:
            running, ready = True, ready + 1
    if reason == "Completed" and running:
        reason = "Running"
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and status.get("phase") not in ("Succeeded", "Failed"):
        reason = "Terminating"
    gates = spec.get("readinessGates") or []
    return [meta["name"], f"{ready}/{len(spec.get('containers', []))}", reason, str(restarts),
            age(meta.get("creationTimestamp")), status.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            _join([g.get("conditionType", "") for g in gates])]


def _service(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    kind = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or [])
    if kind == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname", "") for i in status.get("loadBalancer", {}).get("ingress", [])]
        external_text = _join(ingress + external, "<pending>")
    elif kind == "ExternalName":
        external_text = spec.get("externalName", "")
    else:
        external_text = _join(external)
    ports = [(f"{p['port']}:{p['nodePort']}/{p.get('protocol', 'TCP')}" if p.get("nodePort")
              else f"{p['port']}/{p.get('protocol', 'TCP')}") for p in spec.get("ports", [])]
    return [obj["metadata"]["name"], kind, (spec.get("clusterIPs") or ["<none>"])[0], external_text,
            _join(ports), age(obj["metadata"].get("creationTimestamp")), _labels_text(spec.get("selector"))]


def _containers(obj: Obj) -> tuple[str, str]:
    containers = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _selector_text(obj: Obj) -> str:
    selector = obj.get("spec", {}).get("selector") or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        operator = expression.get("operator", "")
        values = ",".join(expression.get("values") or [])
        terms.append({"In": f"{expression['key']} in ({values})", "NotIn": f"{expression['key']} notin ({values})",
                      "Exists": expression["key"], "DoesNotExist": f"!{expression['key']}"}.get(operator, ""))
    return _join(terms)


def _deployment(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    names, images = _containers(obj)
    return [obj["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            age(obj["metadata"].get("creationTimestamp")), names, images, _selector_text(obj)]


def _replicaset(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    names, images = _containers(obj)
    return [obj["metadata"]["name"], spec.get("replicas", 0), status.get("replicas", 0),
            status.get("readyReplicas", 0), age(obj["metadata"].get("creationTimestamp")), names, images,
            _selector_text(obj)]


def _daemonset(obj: Obj) -> list[Any]:
    status = obj.get("status", {})
    names, images = _containers(obj)
    node_selector = obj.get("spec", {}).get("template", {}).get("spec", {}).get("nodeSelector")
    return [obj["metadata"]["name"], status.get("desiredNumberScheduled", 0),
            status.get("currentNumberScheduled", 0), status.get("numberReady", 0),
            status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            _labels_text(node_selector), age(obj["metadata"].get("creationTimestamp")), names, images,
            _selector_text(obj)]


def _namespace(obj: Obj) -> list[Any]:
    return [obj["metadata"]["name"], obj.get("status", {}).get("phase", ""),
            age(obj["metadata"].get("creationTimestamp"))]


def _endpoints(obj: Obj) -> list[Any]:
    pairs = [f"{a.get('ip')}:{p.get('port')}" for s in obj.get("subsets") or []
             for p in s.get("ports") or [{}] for a in s.get("addresses") or []]
    text = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")
    return [obj["metadata"]["name"], text or "<none>", age(obj["metadata"].get("creationTimestamp"))]


def _lease(obj: Obj) -> list[Any]:
    return [obj["metadata"]["name"], obj.get("spec", {}).get("holderIdentity", ""),
            age(obj["metadata"].get("creationTimestamp"))]


def _job(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
    state = "Complete" if conditions.get("Complete") == "True" else \
        "Failed" if conditions.get("Failed") == "True" else "Running"
    names, images = _containers(obj)
    return [obj["metadata"]["name"], state, f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}",
            "", age(obj["metadata"].get("creationTimestamp")), names, images, _selector_text(obj)]


def _helmchart(obj: Obj) -> list[Any]:
    spec = obj.get("spec", {})
    return [obj["metadata"]["name"], obj.get("status", {}).get("jobName", ""), spec.get("chart", ""),
            spec.get("targetNamespace", ""), spec.get("version", ""), spec.get("repo", ""),
            spec.get("helmVersion", ""), spec.get("bootstrap", False),
            age(obj["metadata"].get("creationTimestamp"))]


def _event(obj: Obj) -> list[Any]:
    first = age(obj.get("firstTimestamp") or obj.get("eventTime"))
    last = age(obj["lastTimestamp"]) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 1
    if obj.get("series"):
        last, count = age(obj["series"].get("lastObservedTime")), obj["series"].get("count", count)
    involved = obj.get("involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = obj.get("source") or {}
    origin = source.get("component") or obj.get("reportingComponent", "")
    if source.get("host"):
        origin = f"{origin}, {source['host']}"
    return [last, obj.get("type", ""), obj.get("reason", ""), target, involved.get("fieldPath", ""), origin,
            str(obj.get("message", "")).strip(), first, count, obj["metadata"]["name"]]


def _ingress(obj: Obj) -> list[Any]:
    spec = obj.get("spec", {})
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    ingress = (obj.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
    addresses = [i.get("ip") or i.get("hostname", "") for i in ingress]
    return [obj["metadata"]["name"], spec.get("ingressClassName") or "<none>", _join(hosts, "*"),
            ",".join(addresses), "80, 443" if spec.get("tls") else "80",
            age(obj["metadata"].get("creationTimestamp"))]


def _ingressclass(obj: Obj) -> list[Any]:
    spec = obj.get("spec", {})
    parameters = spec.get("parameters")
    text = "<none>"
    if parameters:
        group = f".{parameters['apiGroup']}" if parameters.get("apiGroup") else ""
        text = f"{parameters.get('kind', '')}{group}/{parameters.get('name', '')}"
    return [obj["metadata"]["name"], spec.get("controller", ""), text, age(obj["metadata"].get("creationTimestamp"))]


def _poddisruptionbudget(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    return [obj["metadata"]["name"], str(spec.get("minAvailable", "N/A")), str(spec.get("maxUnavailable", "N/A")),
            status.get("disruptionsAllowed", 0), age(obj["metadata"].get("creationTimestamp"))]


def _webhooks(obj: Obj) -> list[Any]:
    return [obj["metadata"]["name"], len(obj.get("webhooks") or []), age(obj["metadata"].get("creationTimestamp"))]


def _crd(obj: Obj) -> list[Any]:
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp", "")]


_STEP = re.compile(r'\.([^.\[]+)|\[(\d+|\*)\]|\[\?\(@\.([^=!<>]+?)\s*==\s*["\']?([^"\']*)["\']?\)\]')


def json_path(obj: Any, expression: str) -> list[Any]:
    """Values of a CRD column's JSONPath, e.g. `.status.conditions[?(@.type=="Ready")].status`."""
    values = [obj]
    path = expression.strip().removeprefix("{").removesuffix("}")
    position = 0
    while position < len(path):
        step = _STEP.match(path, position)
        if not step:
            return []
        field, index, filter_field, filter_value = step.groups()
        if field is not None:
            values = [v[field] for v in values if isinstance(v, dict) and field in v]
        elif index == "*":
            values = [item for v in values if isinstance(v, list) for item in v]
        elif index is not None:
            values = [v[int(index)] for v in values if isinstance(v, list) and int(index) < len(v)]
        else:
            values = [item for v in values if isinstance(v, list) for item in v
                      if str(_field(item, filter_field)) == filter_value]
        position = step.end()
    return values


def _field(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _custom_cell(obj: Obj, kind: str, path: str) -> Any:
    values = json_path(obj, path)
    if not values:
        return None
    if kind == "date":
        return age(str(values[0]))
    if len(values) == 1:
        value = values[0]
        return value if kind in ("integer", "number", "boolean") or isinstance(value, str) else json.dumps(value)
    return ",".join(v if isinstance(v, str) else json.dumps(v) for v in values)


def _custom_printer(resource: Resource) -> tuple[list[Column], Callable[[Obj], list[Any]]]:
    specs = resource.columns or ()
    columns = [NAME_COLUMN, *[(name, "string" if kind == "date" else kind, priority, description)
                              for name, kind, _, priority, description in specs]]

    def printer(obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"], *[_custom_cell(obj, kind, path) for _, kind, path, _, _ in specs]]

    return columns, printer


def _generic(obj: Obj) -> list[Any]:
    return [obj["metadata"]["name"], age(obj["metadata"].get("creationTimestamp"))]


def _columns(*specs: tuple[str, str, int]) -> list[Column]:
    return [(name, kind, priority, "") for name, kind, priority in specs]


WORKLOAD_WIDE = (("Containers", "string", 1), ("Images", "string", 1), ("Selector", "string", 1))
PRINTERS: dict[str, tuple[list[Column], Callable[[Obj], list[Any]]]] = {
    "Node": ([NAME_COLUMN, *_columns(("Status", "string", 0), ("Roles", "string", 0)), AGE_COLUMN,
              *_columns(("Version", "string", 0), ("Internal-IP", "string", 1), ("External-IP", "string", 1),
                        ("OS-Image", "string", 1), ("Kernel-Version", "string", 1),
                        ("Container-Runtime", "string", 1))], _node),
    "Pod": ([NAME_COLUMN, *_columns(("Ready", "string", 0), ("Status", "string", 0),
                                    ("Restarts", "string", 0)), AGE_COLUMN,
             *_columns(("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1),
                       ("Readiness Gates", "string", 1))], _pod),
    "Service": ([NAME_COLUMN, *_columns(("Type", "string", 0), ("Cluster-IP", "string", 0),
                                        ("External-IP", "string", 0), ("Port(s)", "string", 0)), AGE_COLUMN,
                 *_columns(("Selector", "string", 1))], _service),
    "Deployment": ([NAME_COLUMN, *_columns(("Ready", "string", 0), ("Up-to-date", "integer", 0),
                                           ("Available", "integer", 0)), AGE_COLUMN,
                    *_columns(*WORKLOAD_WIDE)], _deployment),
    "ReplicaSet": ([NAME_COLUMN, *_columns(("Desired", "integer", 0), ("Current", "integer", 0),
                                           ("Ready", "integer", 0)), AGE_COLUMN,
                    *_columns(*WORKLOAD_WIDE)], _replicaset),
    "DaemonSet": ([NAME_COLUMN, *_columns(("Desired", "integer", 0), ("Current", "integer", 0),
                                          ("Ready", "integer", 0), ("Up-to-date", "integer", 0),
                                          ("Available", "integer", 0), ("Node Selector", "string", 0)),
                   AGE_COLUMN, *_columns(*WORKLOAD_WIDE)], _daemonset),
    "Namespace": ([NAME_COLUMN, *_columns(("Status", "string", 0)), AGE_COLUMN], _namespace),
    "Endpoints": ([NAME_COLUMN, *_columns(("Endpoints", "string", 0)), AGE_COLUMN], _endpoints),
    "Lease": ([NAME_COLUMN, *_columns(("Holder", "string", 0)), AGE_COLUMN], _lease),
    "Job": ([NAME_COLUMN, *_columns(("Status", "string", 0), ("Completions", "string", 0),
                                    ("Duration", "string", 0)), AGE_COLUMN,
             *_columns(*WORKLOAD_WIDE)], _job),
    "Event": (_columns(("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
                       ("Object", "string", 0), ("Subobject", "string", 1), ("Source", "string", 1),
                       ("Message", "string", 0), ("First Seen", "string", 1), ("Count", "string", 1),
                       ("Name", "string", 1)), _event),
    "HelmChart": ([NAME_COLUMN, *_columns(("Job", "string", 0), ("Chart", "string", 0),
                                          ("TargetNamespace", "string", 0), ("Version", "string", 0),
                                          ("Repo", "string", 0), ("HelmVersion", "string", 0),
                                          ("Bootstrap", "boolean", 0)), AGE_COLUMN], _helmchart),
    "Ingress": ([NAME_COLUMN, *_columns(("Class", "string", 0), ("Hosts", "string", 0), ("Address", "string", 0),
                                        ("Ports", "string", 0)), AGE_COLUMN], _ingress),
    "IngressClass": ([NAME_COLUMN, *_columns(("Controller", "string", 0), ("Parameters", "string", 0)),
                      AGE_COLUMN], _ingressclass),
    "PodDisruptionBudget": ([NAME_COLUMN, *_columns(("Min Available", "string", 0), ("Max Unavailable", "string", 0),
                                                    ("Allowed Disruptions", "integer", 0)), AGE_COLUMN],
                            _poddisruptionbudget),
    "MutatingWebhookConfiguration": ([NAME_COLUMN, *_columns(("Webhooks", "integer", 0)), AGE_COLUMN], _webhooks),
    "ValidatingWebhookConfiguration": ([NAME_COLUMN, *_columns(("Webhooks", "integer", 0)), AGE_COLUMN],
                                       _webhooks),
    "CustomResourceDefinition": ([NAME_COLUMN, ("Created At", "date", 0, "")], _crd),
}


def _row_object(resource: Resource, obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def to_table(resource: Resource, objects: list[Obj], resource_version: str, include: str) -> Obj:
    if resource.from_crd:
        columns, printer = _custom_printer(resource)
    else:
        columns, printer = PRINTERS.get(resource.kind, ([NAME_COLUMN, AGE_COLUMN], _generic))
    definitions = [{"name": name, "type": kind, "format": "name" if (name, kind, priority, description) == NAME_COLUMN
                    else "", "description": description, "priority": priority}
                   for name, kind, priority, description in columns]
    rows = []
    for obj in objects:
        row: Obj = {"cells": printer(obj)}
        embedded = _row_object(resource, obj, include)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": definitions, "rows": rows}
