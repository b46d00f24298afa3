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


# What a pattern's leaf list may hold besides plain values: the comparison operators of Lambda
# event filtering (Lambda Developer Guide, "Control which events Lambda sends to your function",
# filter rule syntax) and EventBridge's, whose pattern language Lambda uses (EventBridge User
# Guide, "Comparison operators for use in event patterns"). Lambda refuses any other key.
OPERATORS = frozenset(
    {
        "prefix",
        "suffix",
        "anything-but",
        "numeric",
        "exists",
        "equals-ignore-case",
        "wildcard",
        "cidr",
    }
)


def valid_pattern(text: object) -> bool:
    """Whether Lambda accepts `text` as a filter's Pattern. AWS answers "Invalid filter pattern
    definition." to a pattern that is no JSON object (`null`, a plain string), to a field whose
    rule is a plain value rather than a list (`{"eventSource": "aws:sqs"}`) and to an empty list
    (`{"eventSource": []}`): all recorded against AWS in localstack/localstack,
    tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_sqs.snapshot.json,
    test_sqs_invalid_event_filter."""
    if not isinstance(text, str):
        return False
    try:
        pattern = json.loads(text)
    except ValueError:
        return False
    return isinstance(pattern, dict) and _valid_fields(pattern)


def _valid_fields(pattern: dict[str, Any]) -> bool:
    for key, rule in pattern.items():
        if key == "$or":
            if not isinstance(rule, list) or len(rule) < 2:
                return False
            if not all(isinstance(r, dict) and _valid_fields(r) for r in rule):
                return False
        elif isinstance(rule, dict):
            if not rule or not _valid_fields(rule):
                return False
        elif not isinstance(rule, list) or not rule or not all(map(_valid_value, rule)):
            return False
    return True


def _valid_value(value: Any) -> bool:
    if not isinstance(value, dict):
        return value is None or isinstance(value, (str, int, float, bool))
    if len(value) != 1:
        return False
    operator, argument = next(iter(value.items()))
    if operator not in OPERATORS:
        return False
    if operator == "exists":
        return isinstance(argument, bool)
    if operator == "numeric":
        return _valid_numeric(argument)
    return True


def _valid_numeric(conditions: Any) -> bool:
    if not isinstance(conditions, list) or not conditions or len(conditions) % 2:
        return False
    pairs = zip(conditions[::2], conditions[1::2], strict=True)
    return all(
        op in COMPARISONS and isinstance(n, (int, float)) and not isinstance(n, bool)
        for op, n in pairs
    )
