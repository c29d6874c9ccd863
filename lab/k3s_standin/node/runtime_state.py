"""The kubelet's runtime state at start-up: not ready until the container runtime and the network have
reported in, so a (re)started kubelet first posts Ready=False, then Ready=True.

Upstream: kubernetes/kubernetes pkg/kubelet/runtime.go (`runtimeErrors` says "container runtime status
check may not have completed yet" before the first runtime sync; `networkError` starts as
`ErrNetworkUnknown`, "network state unknown"), aggregated by `ReadyCondition` in
pkg/kubelet/nodestatus/setters.go into a KubeletNotReady message (apimachinery's aggregate prints
several errors as "[a, b]"). The runtime sync comes a moment later from `updateRuntimeUp`; the
stand-in models that moment as `standin-runtime-ready-delay` (a `kubelet-arg`, default 2s).

Example:
    state = RuntimeState(delay=2.0)
    state.errors()   # ["container runtime status check may not have completed yet", "network state unknown"]
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from k3s_standin.controllers import durations

NOT_SYNCED = ["container runtime status check may not have completed yet", "network state unknown"]
DELAY_ARG = "standin-runtime-ready-delay"
DEFAULT_DELAY = 2.0


class RuntimeState:
    """Errors that keep the node NotReady; none once `delay` seconds have passed since start."""

    def __init__(self, delay: float, started: float | None = None) -> None:
        self.ready_at = (time.monotonic() if started is None else started) + delay

    @classmethod
    def from_kubelet_args(cls, kubelet_args: Mapping[str, str]) -> RuntimeState:
        return cls(durations.seconds(DELAY_ARG, dict(kubelet_args), DEFAULT_DELAY))

    def errors(self, now: float | None = None) -> list[str]:
        return [] if (time.monotonic() if now is None else now) >= self.ready_at else list(NOT_SYNCED)


def ready_message(errors: list[str]) -> str:
    """The Ready=False message: one error as is, several as "[a, b]" like utilerrors.NewAggregate."""
    return errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
