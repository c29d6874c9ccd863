"""Whether a cluster's Kubernetes version satisfies a chart's ``kubeVersion``, as helm decides it
before it installs (helm/helm pkg/chartutil/capabilities.go and pkg/action/install.go use
Masterminds/semver v3 ``NewConstraint(...).Check(...)``): comma- or space-separated constraints are
all required, ``||`` separates alternatives; operators ``= != > < >= <= ~ ^`` and ``x``/``*``
wildcards; build metadata (``+k3s1``) is ignored; ``1.31.0-0`` is the lowest pre-release of 1.31.0,
so ``< 1.31.0-0`` excludes every 1.31 release.

Pure, so preflight can refuse a chart before anything is written.

Example:
    satisfies("v1.31.4+k3s1", "< 1.32.0-0")    # True
    satisfies("v1.31.4+k3s1", ">= 1.21.0-0 < 1.31.0-0")    # False
"""

from __future__ import annotations

import re
from itertools import zip_longest

_VERSION = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_TERM = re.compile(r"(!=|>=|<=|=>|=<|>|<|=|~>|~|\^)?\s*(v?[0-9xX*][0-9A-Za-z.+*-]*)")

Version = tuple[int, int, int, tuple[str, ...]]


class ConstraintError(ValueError):
    """A ``kubeVersion`` helm would not parse either."""


def parse_version(text: str) -> Version:
    """``v1.31.4+k3s1`` -> (1, 31, 4, ()); raises ValueError when it is not a version."""
    match = _VERSION.match(text.strip())
    if not match or any(part in ("x", "X", "*") for part in match.groups()[:3] if part):
        raise ValueError(f"not a version: {text!r}")
    major, minor, patch, pre = match.groups()
    return int(major), int(minor or 0), int(patch or 0), tuple(pre.split(".")) if pre else ()


def _compare_pre(left: tuple[str, ...], right: tuple[str, ...]) -> int:
    """Semver 2.0 precedence of pre-releases; a release (no pre-release) is above all of its own."""
    if left == right:
        return 0
    if not left or not right:
        return 1 if not left else -1
    for a, b in zip_longest(left, right):
        if a is None or b is None:
            return -1 if a is None else 1
        if a == b:
            continue
        if a.isdigit() and b.isdigit():
            return -1 if int(a) < int(b) else 1
        if a.isdigit() != b.isdigit():
            return -1 if a.isdigit() else 1
        return -1 if a < b else 1
    return 0


def compare(left: Version, right: Version) -> int:
    """-1, 0 or 1 as ``left`` sorts before, with or after ``right``."""
    if left[:3] != right[:3]:
        return -1 if left[:3] < right[:3] else 1
    return _compare_pre(left[3], right[3])


def _bounds(operator: str, text: str) -> list[tuple[str, Version]]:
    """One term as (operator, version) pairs; wildcards and ~/^ become ranges."""
    match = _VERSION.match(text)
    if not match:
        raise ConstraintError(f"improper constraint: {text}")
    parts = match.groups()[:3]
    wild = next((index for index, part in enumerate(parts) if part is None or part in "xX*"), 3)
    numbers = [int(part) if index < wild else 0 for index, part in enumerate(parts)]
    pre = tuple(match.group(4).split(".")) if match.group(4) else ()
    low: Version = (numbers[0], numbers[1], numbers[2], pre)
    if wild == 0:
        return [] if operator in ("", "=", ">=", "<=", "~", "^", "~>") else [("<", (0, 0, 0, ("0",)))]
    if operator in ("~", "~>") or (operator in ("", "=") and wild < 3):
        top_index = 1 if operator in ("~", "~>") and wild >= 2 else wild - 1
        high = [*numbers[:top_index], numbers[top_index] + 1, 0, 0][:3]
        return [(">=", low), ("<", (high[0], high[1], high[2], ("0",)))]
    if operator == "^":
        index = next((i for i, n in enumerate(numbers) if n != 0), 2)
        index = min(index, wild - 1) if wild < 3 else index
        high = [*numbers[:index], numbers[index] + 1, 0, 0][:3]
        return [(">=", low), ("<", (high[0], high[1], high[2], ("0",)))]
    if wild < 3 and operator in (">", "<="):
        high = [*numbers[:wild - 1], numbers[wild - 1] + 1, 0, 0][:3]
        return [(">=" if operator == ">" else "<", (high[0], high[1], high[2], ("0",)))]
    return [({"=>": ">=", "=<": "<="}.get(operator, operator or "="), low)]


def _holds(version: Version, operator: str, bound: Version) -> bool:
    order = compare(version, bound)
    return {"=": order == 0, "!=": order != 0, ">": order > 0, "<": order < 0,
            ">=": order >= 0, "<=": order <= 0}[operator]


def satisfies(version: str, constraint: str) -> bool:
    """Whether ``version`` meets ``constraint``; raises ConstraintError on a constraint helm refuses."""
    parsed = parse_version(version)
    for alternative in constraint.split("||"):
        terms = _TERM.findall(alternative.replace(",", " "))
        if not terms:
            raise ConstraintError(f"improper constraint: {constraint}")
        bounds = [pair for operator, text in terms for pair in _bounds(operator, text)]
        if all(_holds(parsed, operator, bound) for operator, bound in bounds):
            return True
    return False
