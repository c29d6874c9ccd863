"""Placeholder for H2b's `job.run(pod, container_spec, api) -> (exit_code, log_lines)`: the node side
needs the interface before the real job exists; the install itself is still rendered by
controllers/helm_controller.py, so the job container only completes. Replaced at merge."""

from __future__ import annotations

from typing import Any


def run(pod: dict[str, Any], container_spec: dict[str, Any], api: Any) -> tuple[int, list[str]]:
    return 0, [f"helm job placeholder for {pod['metadata']['name']}"]
