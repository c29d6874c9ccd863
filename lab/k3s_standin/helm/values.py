"""Values as helm computes them for an install (helm pkg/cli/values/options.go `MergeValues`,
pkg/chartutil/coalesce.go): the chart's values.yaml, then each `--values` file in order (klipper-helm
passes `/config/*.yaml`, i.e. `values-01_HelmChart.yaml` then `values-10_HelmChartConfig.yaml`), then
each `--set`/`--set-string` (helm pkg/strvals: dotted keys, `\\,` escapes a comma). Maps merge
deeply; anything else is replaced; a null value deletes the key.

Example:
    merged({"a": {"b": 1}}, [{"a": {"c": 2}}], [("a.b", "3", True)])   # {"a": {"b": 3, "c": 2}}
"""

from __future__ import annotations

import copy
import re
from typing import Any

Obj = dict[str, Any]


def merge(base: Obj, override: Obj) -> Obj:
    """`override` over `base`, maps deeply; a None in `override` removes the key (helm coalesce)."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def typed(text: str) -> Any:
    """helm strvals `typedVal`: true/false/null and integers become typed, anything else a string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if re.fullmatch(r"-?[1-9]\d*|0", text):
        return int(text)
    return text


def set_value(values: Obj, key: str, text: str, typed_value: bool) -> None:
    """One `--set key=value` (typed) or `--set-string` (string) into `values`."""
    parts = re.split(r"(?<!\\)\.", key)
    target = values
    for part in parts[:-1]:
        target = target.setdefault(part.replace("\\.", "."), {})
    value = typed(text) if typed_value else text.replace("\\,", ",")
    target[parts[-1].replace("\\.", ".")] = value


def merged(defaults: Obj, files: list[Obj], sets: list[tuple[str, str, bool]]) -> Obj:
    result = copy.deepcopy(defaults)
    for overrides in files:
        result = merge(result, overrides or {})
    for key, text, typed_value in sets:
        set_value(result, key, text, typed_value)
    return result
