"""Go `time.Duration` strings (`40s`, `1m30s`, `500ms`) as Kubernetes flags take them.

Example:
    seconds("node-monitor-grace-period", {"node-monitor-grace-period": "4s"}, 40.0)  # 4.0
"""

from __future__ import annotations

import re

UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse(text: str) -> float:
    """Seconds in a Go duration; a bare number counts as seconds. Raises ValueError otherwise."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(number) * UNITS[unit] for number, unit in parts)


def seconds(flag: str, args: dict[str, str], default: float) -> float:
    """The flag's value from a parsed `*-arg` dict, or the default."""
    value = args.get(flag)
    return default if value in (None, "") else parse(value)
