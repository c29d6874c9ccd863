"""Label and field selectors as the `labelSelector` / `fieldSelector` query parameters spell them.

Example:
    match = parse_labels("app=web,tier notin (db),!legacy")
    match({"app": "web"})  # True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from k3s_standin.apiserver.errors import ApiError, bad_request

LabelMatch = Callable[[Mapping[str, str]], bool]
FieldMatch = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|[^\s(),!=]+)")


def _tokens(text: str) -> list[str]:
    tokens = []
    position = 0
    text = text.strip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if not found:
            raise bad_request(f"unable to parse requirement: {text!r}")
        tokens.append(found.group(1))
        position = found.end()
    return tokens


def parse_labels(text: str) -> LabelMatch:
    """Compile a label selector; raises a 400 `ApiError` when it does not parse."""
    tokens = _tokens(text or "")
    requirements: list[LabelMatch] = []
    while tokens:
        requirements.append(_requirement(tokens, text))
        if tokens:
            if tokens.pop(0) != ",":
                raise bad_request(f"unable to parse requirement: found unexpected token in {text!r}")
    return lambda labels: all(requirement(labels) for requirement in requirements)


def _requirement(tokens: list[str], text: str) -> LabelMatch:
    error = bad_request(f"unable to parse requirement: {text!r}")
    if tokens[0] == "!":
        tokens.pop(0)
        key = tokens.pop(0) if tokens else ""
        if not key or key in "(),":
            raise error
        return lambda labels: key not in labels
    key = tokens.pop(0)
    if not tokens or tokens[0] == ",":
        return lambda labels: key in labels
    operator = tokens.pop(0)
    if operator in ("=", "==", "!="):
        value = tokens.pop(0) if tokens and tokens[0] not in ",()" else ""
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: key in labels and labels[key] == value
    if operator in ("in", "notin"):
        values = _value_set(tokens, error)
        if operator == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: labels.get(key) not in values
    raise error


def _value_set(tokens: list[str], error: ApiError) -> set[str]:
    if not tokens or tokens.pop(0) != "(":
        raise error
    values: set[str] = set()
    while tokens and tokens[0] != ")":
        token = tokens.pop(0)
        if token != ",":
            values.add(token)
    if not tokens:
        raise error
    tokens.pop(0)
    return values


def field_value(obj: dict[str, Any], path: str) -> str:
    """String value of a dotted field path as the API server compares it ("" when absent)."""
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and path == "source":
        value = value.get("component")
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def parse_fields(text: str, supported: tuple[str, ...], kind: str) -> FieldMatch:
    """Compile a field selector over `metadata.name`, `metadata.namespace` and `supported`."""
    requirements = []
    for term in (text or "").split(","):
        term = term.strip()
        if not term:
            continue
        match = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", term)
        if not match:
            raise bad_request(f"invalid selector: {text!r}; can't understand {term!r}")
        field, operator, value = match.groups()
        if field not in ("metadata.name", "metadata.namespace", *supported):
            raise bad_request(f'field label not supported: {field}')
        requirements.append((field, operator == "!=", value))
    return lambda obj: all((field_value(obj, field) == value) != negate
                           for field, negate, value in requirements)



def matches_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A `metav1.LabelSelector` object (matchLabels, matchExpressions) against labels; an empty or
    absent selector matches everything (apimachinery pkg/apis/meta/v1 `LabelSelectorAsSelector`).

    Example:
        matches_selector({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["x"]}]}, {})
    """
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, values = expression.get("key", ""), expression.get("values") or []
        present = key in labels
        if not {"In": present and labels.get(key) in values,
                "NotIn": not present or labels.get(key) not in values,
                "Exists": present, "DoesNotExist": not present}.get(expression.get("operator", ""), False):
            return False
    return True
