"""Container log files where the kubelet keeps them, in the CRI log format containerd writes.

Upstream: kubernetes/kubernetes pkg/kubelet/kuberuntime/helpers.go `BuildContainerLogsDirectory`
(`/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restartCount>.log`) and
pkg/kubelet/kuberuntime/logs/logs.go (each line `<RFC3339Nano> <stdout|stderr> F <text>`).
The root is /var/log/pods, or $K3S_STANDIN_POD_LOG_DIR (tests on a host give each cluster its own).

Example:
    writer = LogWriter(log_file(pod_meta, "helm", 0)); writer.line("Installing helm chart")
    read_lines(log_file(pod_meta, "helm", 0), tail=10)   # ["Installing helm chart"]
"""

from __future__ import annotations

import glob
import os
import threading
import time
from typing import Any

Obj = dict[str, Any]
ROOT_ENV = "K3S_STANDIN_POD_LOG_DIR"


def root() -> str:
    return os.environ.get(ROOT_ENV) or "/var/log/pods"


def pod_dir(namespace: str, name: str, uid: str, base: str | None = None) -> str:
    return os.path.join(base or root(), f"{namespace}_{name}_{uid}")


def log_file(meta: Obj, container: str, restart: int, base: str | None = None) -> str:
    return os.path.join(pod_dir(meta["namespace"], meta["name"], meta["uid"], base), container, f"{restart}.log")


def pod_dirs(namespace: str, name: str, base: str | None = None) -> list[str]:
    """Log directories of every pod of that name (old uids too), newest first."""
    return sorted(glob.glob(os.path.join(glob.escape(base or root()), glob.escape(f"{namespace}_{name}_") + "*")),
                  key=os.path.getmtime, reverse=True)


def restarts_logged(directory: str, container: str) -> list[int]:
    try:
        names = os.listdir(os.path.join(directory, container))
    except FileNotFoundError:
        return []
    return sorted(int(n.removesuffix(".log")) for n in names if n.removesuffix(".log").isdigit())


def stamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e9):09d}Z"


class LogWriter:
    """Appends CRI-format lines to one container's log file; safe across threads."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.lock = threading.Lock()
        os.makedirs(os.path.dirname(file_name), mode=0o755, exist_ok=True)

    def line(self, text: str, stream: str = "stdout") -> None:
        with self.lock, open(self.file_name, "a", encoding="utf-8") as handle:
            for part in text.splitlines() or [""]:
                handle.write(f"{stamp()} {stream} F {part}\n")


def read_lines(file_name: str, tail: int | None = None) -> list[str]:
    """The text of each line (the CRI prefix removed), the last `tail` ones when given."""
    with open(file_name, encoding="utf-8", errors="replace") as handle:
        lines = [line.rstrip("\n").split(" ", 3)[-1] for line in handle]
    return lines[-tail:] if tail is not None else lines
