"""The Masterminds/semver v3 constraint subset helm checks a chart's `kubeVersion` with
(helm pkg/chartutil/capabilities.go `IsCompatibleRange`): `=`, `!=`, `>`, `<`, `>=`, `<=`, `~`, `^`,
comma or space for AND, `||` for OR, `x`/`*` wildcards. As in Masterminds v3, a version with a
pre-release only satisfies a constraint that has one, and `-0` is the lowest pre-release, so
`< 1.31.0-0` excludes every 1.31 release. Build metadata (`+k3s1`) is ignored.

Example:
    satisfies("v1.31.4+k3s1", "< 1.31.0-0")   # False
    satisfies("v1.31.4+k3s1", ">= 1.22.0-0")  # True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION = re.compile(r"v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")
TERM = re.compile(r"(=|!=|>=|<=|>|<|~>|~|\^)?\s*([^\s=!<>~^]\S*)")
WILD = ("x", "X", "*")


class ConstraintError(ValueError):
    """A constraint string helm would not parse."""


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: str = ""

    def key(self) -> tuple:
        """Ordering key: a release sorts after all of its pre-releases."""
        pre = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in self.pre.split(".")) \
            if self.pre else ()
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)


def parse(text: str) -> tuple[Version, int]:
    """The version and how many of its parts were given (wildcards count as missing)."""
    match = VERSION.fullmatch(text.strip())
    if not match:
        raise ConstraintError(f"improper constraint: {text}")
    parts = list(match.groups()[:3])
    given = next((index for index, part in enumerate(parts) if part is None or part in WILD), 3)
    major, minor, patch = (int(part) if index < given and part is not None else 0 for index, part in enumerate(parts))
    return Version(major, minor, patch, pre=match.group(4) or ""), given


def bump(version: Version, given: int) -> Version:
    """The lowest version above the given prefix: 1.31 -> 1.32.0-0 (so no 1.32 pre-release slips in)."""
    if given <= 1:
        return Version(version.major + 1, 0, 0, "0")
    if given == 2:
        return Version(version.major, version.minor + 1, 0, "0")
    return Version(version.major, version.minor, version.patch + 1, "0")


def check(version: Version, operator: str, bound: Version, given: int) -> bool:
    low, high = bound.key(), bump(bound, given).key()
    value = version.key()
    if operator in ("", "="):
        return low <= value < high if given < 3 else value == low
    if operator == "!=":
        return not (low <= value < high if given < 3 else value == low)
    if operator == ">":
        return value >= high if given < 3 else value > low
    if operator == ">=":
        return value >= low
    if operator == "<":
        return value < low
    if operator == "<=":
        return value < high if given < 3 else value <= low
    if operator in ("~", "~>"):
        return low <= value < bump(bound, min(max(given, 2), 2)).key()
    if operator == "^":
        significant = 1 if bound.major > 0 or given == 1 else (2 if bound.minor > 0 or given == 2 else 3)
        return low <= value < bump(bound, significant).key()
    raise ConstraintError(f"improper constraint: {operator}")


def satisfies(version_text: str, constraint: str) -> bool:
    """Whether `version_text` meets `constraint` (helm's kubeVersion check)."""
    version, _ = parse(version_text)
    for alternative in constraint.split("||"):
        terms = TERM.findall(alternative.replace(",", " "))
        if not terms:
            raise ConstraintError(f"improper constraint: {constraint}")
        results = []
        for operator, text in terms:
            bound, given = parse(text)
            # Masterminds v3: a pre-release version only matches a constraint term with a pre-release
            # on the same major.minor.patch.
            if version.pre and not (bound.pre and (bound.major, bound.minor, bound.patch)
                                    == (version.major, version.minor, version.patch)):
                results.append(False)
                continue
            results.append(check(version, operator, bound, given))
        if all(results):
            return True
    return False
