"""Whether a cluster's Kubernetes version satisfies a chart's ``kubeVersion``, as helm decides it
before it installs (helm/helm pkg/chartutil/capabilities.go and pkg/action/install.go use
Masterminds/semver v3.3.0, helm's go.mod, ``NewConstraint(...).Check(...)``; constraints.go is
ported here term by term): comma- or space-separated terms are all required, ``||`` separates
alternatives, ``A - B`` is ``>= A, <= B``; operators ``= != > < >= <= ~ ~> ^`` and ``x``/``X``/``*``
wildcards; build metadata (``+k3s1``) is ignored; a pre-release version (``v1.32.0-rc1+k3s1``) meets
only terms that name a pre-release; ``1.31.0-0`` is the lowest pre-release of 1.31.0, so
``< 1.31.0-0`` excludes every 1.31 release.

Pure, so preflight can refuse a chart before anything is written.

Example:
    satisfies("v1.31.4+k3s1", "< 1.32.0-0")    # True
    satisfies("v1.31.4+k3s1", ">= 1.21.0-0 < 1.31.0-0")    # False
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import zip_longest

_PART = r"(?:\d+|[xX*])"
_CV = rf"v?{_PART}(?:\.{_PART})?(?:\.{_PART})?(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
_OPS = r"=|!=|>|<|>=|=>|<=|=<|~|~>|\^|"
_TERM = re.compile(rf"({_OPS})\s*({_CV})")
# A whole ``||`` alternative: terms separated by blanks or a comma, nothing else (constraints.go
# validConstraintRegex), so a typo is an error, not an ignored word.
_ALTERNATIVE = re.compile(rf"\s*(?:{_OPS})\s*{_CV}\s*(?:(?:\s+|,\s*)(?:{_OPS})\s*{_CV}\s*)*")
_RANGE = re.compile(rf"\s*({_CV})\s+-\s+({_CV})\s*")
_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?")
# The parts of what _CV matched.
_BOUND = re.compile(r"v?([^.+-]+)(?:\.([^.+-]+))?(?:\.([^.+-]+))?(?:-([^+]+))?(?:\+.*)?")

Version = tuple[int, int, int, tuple[str, ...]]


class ConstraintError(ValueError):
    """A ``kubeVersion`` helm would not parse either."""


@dataclass(frozen=True)
class _Term:
    """One operator and its version; ``wild``: the index of the first wildcard or missing part
    (0 major, 1 minor, 2 patch, 3 none), which Masterminds calls dirty, minorDirty, patchDirty."""

    operator: str
    bound: Version
    wild: int


def parse_version(text: str) -> Version:
    """``v1.31.4+k3s1`` -> (1, 31, 4, ()); raises ValueError when it is not a version."""
    match = _VERSION.fullmatch(text.strip())
    if not match:
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


def _term(operator: str, text: str) -> _Term:
    match = _BOUND.fullmatch(text)
    assert match is not None, text  # text is what _CV matched
    parts, pre = match.groups()[:3], match.group(4)
    wild = next((index for index, part in enumerate(parts) if part is None or part in "xX*"), 3)
    numbers = [int(part) if index < wild else 0 for index, part in enumerate(parts)]
    return _Term(operator, (numbers[0], numbers[1], numbers[2], tuple(pre.split(".")) if pre else ()), wild)


def _tilde(version: Version, term: _Term) -> bool:
    bound, wild = term.bound, term.wild
    if compare(version, bound) < 0:
        return False
    if bound[:3] == (0, 0, 0) and wild not in (1, 2):
        return True
    return version[0] == bound[0] and (version[1] == bound[1] or wild == 1)


def _not_equal(version: Version, term: _Term) -> bool:
    bound, wild = term.bound, term.wild
    if wild < 3:
        if version[0] != bound[0] or (version[1] != bound[1] and wild != 1):
            return True
        if wild == 1:
            return False
        if version[2] != bound[2] and wild != 2:
            return True
        if wild == 2:
            return _compare_pre(version[3], bound[3]) != 0
    return compare(version, bound) != 0


def _caret(version: Version, term: _Term) -> bool:
    bound, wild = term.bound, term.wild
    if compare(version, bound) < 0:
        return False
    if bound[0] > 0 or wild == 1:
        return version[0] == bound[0]
    if version[0] > 0:
        return False
    if bound[1] > 0 or wild == 2:
        return version[1] == bound[1]
    return version[1] == 0 and version[2] == bound[2]


def _holds(version: Version, term: _Term) -> bool:
    """One term, as constraints.go's constraint functions decide it."""
    operator, bound, wild = term.operator, term.bound, term.wild
    # Masterminds issue 21: a pre-release meets only a term that names one (v3.3.0 lets a plain
    # ``!=`` through, which it checks before this rule).
    if version[3] and not bound[3] and (operator != "!=" or wild < 3):
        return False
    order = compare(version, bound)
    if operator == "!=":
        return _not_equal(version, term)
    if operator == ">":
        if wild == 3 or (wild == 0 and version[0] == bound[0]):
            return order > 0
        if version[0] != bound[0]:
            return version[0] > bound[0]
        return wild == 2 and version[1] > bound[1]
    if operator == "<":
        return order < 0
    if operator in (">=", "=>"):
        return order >= 0
    if operator in ("<=", "=<"):
        if wild == 3:
            return order <= 0
        return not (version[0] > bound[0] or (version[0] == bound[0] and version[1] > bound[1] and wild != 1))
    if operator == "^":
        return _caret(version, term)
    if operator in ("~", "~>") or wild < 3:
        return _tilde(version, term)
    return order == 0


def constraint_terms(constraint: str) -> list[list[_Term]]:
    """The ``||`` alternatives, each its terms; raises ConstraintError as NewConstraint fails."""
    rewritten = _RANGE.sub(lambda match: f">= {match.group(1)}, <= {match.group(2)} ", constraint)
    alternatives = []
    for alternative in rewritten.split("||"):
        if not _ALTERNATIVE.fullmatch(alternative):
            raise ConstraintError(f"improper constraint: {alternative.strip()}")
        alternatives.append([_term(operator, text) for operator, text in _TERM.findall(alternative)])
    return alternatives


def satisfies(version: str, constraint: str) -> bool:
    """Whether ``version`` meets ``constraint``; raises ConstraintError on a constraint helm refuses,
    ValueError on a version that is none."""
    parsed = parse_version(version)
    return any(all(_holds(parsed, term) for term in terms) for terms in constraint_terms(constraint))
