"""Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`).

kubectl's typed clients send protobuf for `kubectl create namespace|configmap|secret|serviceaccount|
deployment|service|job` and for `kubectl drain` (Eviction). Those messages are decoded here into the
JSON form the rest of the server works with. Field numbers follow k8s.io/api's generated.proto; a
field outside the types below is refused (415) rather than dropped, so nothing is silently lost.

Example:
    obj = decode(body)   # {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from k3s_standin.apiserver.errors import ApiError

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# message -> {field number: (JSON name, kind)}. Kinds: "str", "int", "bool" (zero values omitted, as
# Go's omitempty does), "ptr" / "pbool" / "pstr" (pointer int, bool, string: kept even when zero),
# "time", "intstr", "map" (string->string), "bytemap" (string->bytes, base64 in JSON), "quantities"
# (string->Quantity), "[str]" (repeated string), a message name, or "[Message]" (repeated message).
SCHEMAS: dict[str, dict[int, tuple[str, str]]] = {
    "ObjectMeta": {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"),
                   4: ("selfLink", "str"), 5: ("uid", "str"), 6: ("resourceVersion", "str"),
                   7: ("generation", "int"), 8: ("creationTimestamp", "time"),
                   9: ("deletionTimestamp", "time"), 10: ("deletionGracePeriodSeconds", "ptr"),
                   11: ("labels", "map"), 12: ("annotations", "map"),
                   13: ("ownerReferences", "[OwnerReference]"), 14: ("finalizers", "[str]")},
    "OwnerReference": {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"), 5: ("apiVersion", "str"),
                       6: ("controller", "pbool"), 7: ("blockOwnerDeletion", "pbool")},
    "LabelSelector": {1: ("matchLabels", "map"), 2: ("matchExpressions", "[LabelSelectorRequirement]")},
    "LabelSelectorRequirement": {1: ("key", "str"), 2: ("operator", "str"), 3: ("values", "[str]")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "ptr"), 2: ("preconditions", "Preconditions"),
                      3: ("orphanDependents", "pbool"), 4: ("propagationPolicy", "pstr"), 5: ("dryRun", "[str]")},
    "Preconditions": {1: ("uid", "pstr"), 2: ("resourceVersion", "pstr")},
    "ObjectReference": {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"), 4: ("uid", "str"),
                        5: ("apiVersion", "str"), 6: ("resourceVersion", "str"), 7: ("fieldPath", "str")},
    "LocalObjectReference": {1: ("name", "str")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec"), 3: ("status", "Ignored")},
    "NamespaceSpec": {1: ("finalizers", "[str]")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "map"), 3: ("binaryData", "bytemap"),
                  4: ("immutable", "pbool")},
    "Secret": {1: ("metadata", "ObjectMeta"), 2: ("data", "bytemap"), 3: ("type", "str"),
               4: ("stringData", "map"), 5: ("immutable", "pbool")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 2: ("secrets", "[ObjectReference]"),
                       3: ("imagePullSecrets", "[LocalObjectReference]"),
                       4: ("automountServiceAccountToken", "pbool")},
    "Eviction": {1: ("metadata", "ObjectMeta"), 2: ("deleteOptions", "DeleteOptions")},
    "Binding": {1: ("metadata", "ObjectMeta"), 2: ("target", "ObjectReference")},
    "Deployment": {1: ("metadata", "ObjectMeta"), 2: ("spec", "DeploymentSpec"), 3: ("status", "Ignored")},
    "DeploymentSpec": {1: ("replicas", "ptr"), 2: ("selector", "LabelSelector"), 3: ("template", "PodTemplateSpec"),
                       4: ("strategy", "DeploymentStrategy"), 5: ("minReadySeconds", "int"),
                       6: ("revisionHistoryLimit", "ptr"), 7: ("paused", "bool"),
                       9: ("progressDeadlineSeconds", "ptr")},
    "DeploymentStrategy": {1: ("type", "str"), 2: ("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "intstr"), 2: ("maxSurge", "intstr")},
    "Job": {1: ("metadata", "ObjectMeta"), 2: ("spec", "JobSpec"), 3: ("status", "Ignored")},
    "JobSpec": {1: ("parallelism", "ptr"), 2: ("completions", "ptr"), 3: ("activeDeadlineSeconds", "ptr"),
                4: ("selector", "LabelSelector"), 5: ("manualSelector", "pbool"), 6: ("template", "PodTemplateSpec"),
                7: ("backoffLimit", "ptr"), 8: ("ttlSecondsAfterFinished", "ptr"), 9: ("completionMode", "pstr"),
                10: ("suspend", "pbool")},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodSpec": {1: ("volumes", "[Volume]"), 2: ("containers", "[Container]"), 3: ("restartPolicy", "str"),
                4: ("terminationGracePeriodSeconds", "ptr"), 5: ("activeDeadlineSeconds", "ptr"),
                6: ("dnsPolicy", "str"), 7: ("nodeSelector", "map"), 8: ("serviceAccountName", "str"),
                9: ("serviceAccount", "str"), 10: ("nodeName", "str"), 11: ("hostNetwork", "bool"),
                12: ("hostPID", "bool"), 13: ("hostIPC", "bool"),
                15: ("imagePullSecrets", "[LocalObjectReference]"), 16: ("hostname", "str"),
                17: ("subdomain", "str"), 19: ("schedulerName", "str"), 20: ("initContainers", "[Container]"),
                21: ("automountServiceAccountToken", "pbool"), 22: ("tolerations", "[Toleration]"),
                24: ("priorityClassName", "str"), 25: ("priority", "ptr"), 30: ("enableServiceLinks", "pbool")},
    "Volume": {1: ("name", "str")},
    "Container": {1: ("name", "str"), 2: ("image", "str"), 3: ("command", "[str]"), 4: ("args", "[str]"),
                  5: ("workingDir", "str"), 6: ("ports", "[ContainerPort]"), 7: ("env", "[EnvVar]"),
                  8: ("resources", "ResourceRequirements"), 13: ("terminationMessagePath", "str"),
                  14: ("imagePullPolicy", "str"), 16: ("stdin", "bool"), 17: ("stdinOnce", "bool"),
                  18: ("tty", "bool"), 20: ("terminationMessagePolicy", "str")},
    "ContainerPort": {1: ("name", "str"), 2: ("hostPort", "int"), 3: ("containerPort", "int"),
                      4: ("protocol", "str"), 5: ("hostIP", "str")},
    "EnvVar": {1: ("name", "str"), 2: ("value", "str")},
    "ResourceRequirements": {1: ("limits", "quantities"), 2: ("requests", "quantities")},
    "Toleration": {1: ("key", "str"), 2: ("operator", "str"), 3: ("value", "str"), 4: ("effect", "str"),
                   5: ("tolerationSeconds", "ptr")},
    "Service": {1: ("metadata", "ObjectMeta"), 2: ("spec", "ServiceSpec"), 3: ("status", "Ignored")},
    "ServiceSpec": {1: ("ports", "[ServicePort]"), 2: ("selector", "map"), 3: ("clusterIP", "str"),
                    4: ("type", "str"), 5: ("externalIPs", "[str]"), 7: ("sessionAffinity", "str"),
                    8: ("loadBalancerIP", "str"), 10: ("externalName", "str"),
                    11: ("externalTrafficPolicy", "str"), 12: ("healthCheckNodePort", "int"),
                    13: ("publishNotReadyAddresses", "bool"), 18: ("clusterIPs", "[str]"),
                    19: ("ipFamilies", "[str]"), 20: ("ipFamilyPolicy", "pstr"),
                    21: ("allocateLoadBalancerNodePorts", "pbool"), 23: ("internalTrafficPolicy", "pstr")},
    "ServicePort": {1: ("name", "str"), 2: ("protocol", "str"), 3: ("port", "int"), 4: ("targetPort", "intstr"),
                    5: ("nodePort", "int"), 6: ("appProtocol", "pstr")},
}
# The status of a created object is reset by the server anyway; its content is not decoded.
IGNORED = "Ignored"


def _unsupported(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", f"the k3s stand-in cannot decode this protobuf body: "
                    f"{message}; send JSON instead (kubectl create -f / apply -f)", {})


def _varint(data: bytes, position: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if position >= len(data):
            raise _unsupported("truncated varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, varint value or length-delimited bytes) in wire order."""
    fields: list[tuple[int, int | bytes]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(data, position)
            fields.append((number, value))
        elif wire_type == 2:
            length, position = _varint(data, position)
            fields.append((number, data[position:position + length]))
            position += length
        else:
            raise _unsupported(f"wire type {wire_type} in field {number}")
    return fields


def _scalar(value: int | bytes) -> Any:
    """Strings decode as UTF-8; integers are Go's int32/int64, so two's complement."""
    if isinstance(value, bytes):
        return value.decode()
    if value >= 1 << 63:
        value -= 1 << 64
    return value


def _time(data: bytes) -> str | None:
    parts = dict(_fields(data))
    if not parts.get(1):
        return None
    moment = datetime.datetime.fromtimestamp(int(parts[1]), datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _intstr(data: bytes) -> int | str:
    parts = dict(_fields(data))
    return bytes(parts.get(3, b"")).decode() if parts.get(1) == 1 else _scalar(parts.get(2, 0))


def _map_entry(data: bytes) -> tuple[str, bytes]:
    parts = dict(_fields(data))
    key, value = parts.get(1, b""), parts.get(2, b"")
    if not isinstance(key, bytes) or not isinstance(value, bytes):
        raise _unsupported("malformed map entry")
    return key.decode(), value


def _message(name: str, data: bytes) -> dict[str, Any]:
    schema = SCHEMAS.get(name)
    if schema is None:
        raise _unsupported(f"message {name} is not supported")
    result: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            raise _unsupported(f"field {number} of {name} is not supported")
        field, kind = schema[number]
        _set(result, field, kind, value)
    return result


def _set(result: dict[str, Any], field: str, kind: str, value: int | bytes) -> None:
    if kind == IGNORED:
        return
    if kind.startswith("["):
        item_kind = kind[1:-1]
        item = _scalar(value) if item_kind == "str" else _message(item_kind, bytes(value))
        result.setdefault(field, []).append(item)
    elif kind in ("map", "bytemap", "quantities"):
        key, raw = _map_entry(bytes(value))
        if kind == "map":
            entry: Any = raw.decode()
        elif kind == "bytemap":
            entry = base64.b64encode(raw).decode()
        else:
            entry = dict(_fields(raw)).get(1, b"").decode()
        result.setdefault(field, {})[key] = entry
    elif kind == "time":
        stamp = _time(bytes(value))
        if stamp:
            result[field] = stamp
    elif kind == "intstr":
        result[field] = _intstr(bytes(value))
    elif kind in SCHEMAS:
        result[field] = _message(kind, bytes(value))
    elif kind in ("ptr", "pstr"):
        result[field] = _scalar(value)
    elif kind == "pbool":
        result[field] = bool(value)
    elif kind == "bool":
        if value:
            result[field] = True
    elif _scalar(value) not in ("", 0):
        result[field] = _scalar(value)


def decode(body: bytes) -> dict[str, Any]:
    """The JSON object of a protobuf request body (the `k8s\\0` + runtime.Unknown envelope)."""
    if not body.startswith(MAGIC):
        raise _unsupported("missing the k8s protobuf prefix")
    envelope = dict(_fields(body[len(MAGIC):]))
    type_meta = dict(_fields(bytes(envelope.get(1, b""))))
    api_version, kind = (bytes(type_meta.get(1, b"")).decode(), bytes(type_meta.get(2, b"")).decode())
    obj = _message(kind, bytes(envelope.get(2, b"")))
    return {"apiVersion": api_version, "kind": kind, **obj}
