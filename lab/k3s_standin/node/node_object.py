"""The Node object a k3s kubelet registers: labels, addresses, taints from `node-taint`, nodeInfo,
capacity, and the Ready condition it keeps posting.

Upstream: kubernetes/kubernetes pkg/kubelet/nodestatus/setters.go.

Example:
    node = registration(options, "10.213.0.111")
"""

from __future__ import annotations

import os
import platform
from typing import Any

from k3s_standin import K3S_VERSION
from k3s_standin.controllers import conditions
from k3s_standin.node.runtime_state import ready_message

Obj = dict[str, Any]

CONDITIONS = [("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
              ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
              ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available")]


class NodeSpecError(ValueError):
    """A bad node-label / node-taint entry."""


def parse_taint(text: str) -> Obj:
    """`key=value:Effect` or `key:Effect`, as `--node-taint` takes them."""
    key_value, _, effect = text.partition(":")
    key, _, value = key_value.partition("=")
    if not key or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise NodeSpecError(f"invalid node-taint {text!r}: expected key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def labels(options: Any) -> dict[str, str]:
    arch = labels_arch()
    result = {"kubernetes.io/hostname": options.node_name, "kubernetes.io/os": "linux",
              "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch,
              "beta.kubernetes.io/instance-type": "k3s", "node.kubernetes.io/instance-type": "k3s"}
    if options.role == "server":
        result.update({"node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "true"})
    if getattr(options, "embedded_etcd", False):
        # k3s-io/k3s pkg/etcd/metadata_controller.go labels an etcd member's node with EtcdRoleLabel
        result["node-role.kubernetes.io/etcd"] = "true"
    for item in options.node_labels:
        key, sep, value = item.partition("=")
        if not key or not sep:
            raise NodeSpecError(f"invalid node-label {item!r}: expected key=value")
        result[key] = value
    return result


def memory_kib() -> int:
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0


def node_info() -> Obj:
    return {"kubeletVersion": K3S_VERSION, "kubeProxyVersion": K3S_VERSION, "operatingSystem": "linux",
            "architecture": labels_arch(), "containerRuntimeVersion": "containerd://1.7.23-k3s2",
            "kernelVersion": platform.release(), "osImage": os_image(),
            "machineID": read_first("/etc/machine-id"), "systemUUID": read_first("/etc/machine-id"),
            "bootID": read_first("/proc/sys/kernel/random/boot_id")}


def labels_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def read_first(file_name: str) -> str:
    try:
        with open(file_name, encoding="utf-8") as handle:
            return handle.readline().strip()
    except OSError:
        return ""


def os_image() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def registration(options: Any, node_ip: str) -> Obj:
    """The Node as first created (taints only here, like --register-with-taints)."""
    capacity = {"cpu": str(len(os.sched_getaffinity(0))), "memory": f"{memory_kib()}Ki", "pods": "110",
                "ephemeral-storage": "10Gi"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": options.node_name, "labels": labels(options),
                         "annotations": {"k3s.io/internal-ip": node_ip, "k3s.io/hostname": options.hostname,
                                         "node.alpha.kubernetes.io/ttl": "0",
                                         "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {"providerID": f"k3s://{options.node_name}",
                     "taints": [parse_taint(item) for item in options.node_taints]},
            "status": {"capacity": capacity, "allocatable": dict(capacity)}}


def ready_condition(errors: list[str]) -> tuple[str, str, str, str]:
    """Ready as kubernetes/kubernetes pkg/kubelet/nodestatus/setters.go `ReadyCondition` sets it:
    True/KubeletReady, or False/KubeletNotReady with the runtime and network errors."""
    if errors:
        return "Ready", "False", "KubeletNotReady", ready_message(errors)
    return "Ready", "True", "KubeletReady", "kubelet is posting ready status"


def post_status(node: Obj, node_ip: str, hostname: str, now: str, errors: list[str] | None = None,
                kubelet_port: int = 10250) -> bool:
    """Refresh addresses, nodeInfo and the kubelet's conditions with a new heartbeat; `errors` (see
    `runtime_state`) make the node NotReady. Ready stays last, as the setter keeps it."""
    status = node.setdefault("status", {})
    status["addresses"] = [{"type": "InternalIP", "address": node_ip}, {"type": "Hostname", "address": hostname}]
    status["nodeInfo"] = node_info()
    status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": kubelet_port}}
    for kind, value, reason, message in [*CONDITIONS, ready_condition(errors or [])]:
        conditions.set_condition(status, kind, value, reason, message, now, update_stamp="")
        for item in status["conditions"]:
            if item["type"] == kind:
                item["lastHeartbeatTime"] = now
    return True
