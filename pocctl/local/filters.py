"""Lambda event filtering (FilterCriteria), the part of the pattern language mappings use."""

from __future__ import annotations

import json
from typing import Any


class UnsupportedFilter(Exception):
    pass


def _value_matches(rule: Any, value: Any, present: bool) -> bool:
    if isinstance(rule, dict):
        if set(rule) == {"exists"}:
            return bool(rule["exists"]) == present
        if not present:
            return False
        if set(rule) == {"prefix"}:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        if set(rule) == {"numeric"}:
            return _numeric(rule["numeric"], value)
        if set(rule) == {"anything-but"}:
            banned = rule["anything-but"]
            return value not in (banned if isinstance(banned, list) else [banned])
        raise UnsupportedFilter(f"filter rule {json.dumps(rule)} is not supported offline")
    return present and rule == value


COMPARISONS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric(conditions: list[Any], value: Any) -> bool:
    """`{"numeric": [">=", 5, "<", 10]}`: matches numbers only (Lambda Developer Guide,
    "Control which events Lambda sends to your function", numeric matching); a string that
    looks like a number is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    pairs = list(zip(conditions[::2], conditions[1::2], strict=True))
    if not pairs or any(op not in COMPARISONS for op, _ in pairs):
        raise UnsupportedFilter(f"numeric rule {json.dumps(conditions)} is not supported")
    return all(COMPARISONS[op](value, bound) for op, bound in pairs)


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    for key, rule in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(rule, dict):
            if not isinstance(value, dict) or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not any(_value_matches(r, value, present) for r in rule):
                return False
        else:
            raise UnsupportedFilter(f"filter value for {key!r} must be a list or an object")
    return True


def passes(criteria: dict[str, Any] | None, record: dict[str, Any]) -> bool:
    """No criteria lets everything through; otherwise any one filter must match."""
    filters = (criteria or {}).get("Filters") or []
    if not filters:
        return True
    return any(matches(json.loads(f["Pattern"]), record) for f in filters)
