"""Lambda event filtering (FilterCriteria): which patterns Lambda accepts, and what they match.

One table of operators drives both: a pattern is accepted only if every operator in it is one
the matcher evaluates, with an argument of the shape it evaluates. Sources: Lambda Developer
Guide, "Control which events Lambda sends to your function" (its filter rule syntax table: null,
empty, equals, equals-ignore-case, and, or, anything-but, numeric, exists, prefix, suffix;
"If none of your filters are satisfied, Lambda discards the record"), and EventBridge User
Guide, "Comparison operators for use in event patterns", whose "Pipe support" column Lambda's
filtering follows: `$or` and prefix/suffix with equals-ignore-case "Yes"; anything-but with
prefix, suffix, equals-ignore-case or wildcard, `wildcard` and `cidr` "No": refused here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operator:
    valid: Callable[[Any], bool]  # whether the operator's argument has a shape Lambda accepts
    matches: Callable[[Any, Any], bool]  # (argument, a present field's value) -> matched


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_text_or_ignoring_case(argument: Any) -> bool:
    """`"x"` or `{"equals-ignore-case": "x"}` (prefix and suffix take both)."""
    if isinstance(argument, str):
        return True
    return (
        isinstance(argument, dict)
        and set(argument) == {"equals-ignore-case"}
        and isinstance(argument["equals-ignore-case"], str)
    )


def _affix(test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def matches(argument: Any, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if isinstance(argument, dict):
            return test(value.casefold(), argument["equals-ignore-case"].casefold())
        return test(value, argument)

    return matches


def _anything_but_valid(argument: Any) -> bool:
    values = argument if isinstance(argument, list) else [argument]
    return bool(values) and all(isinstance(v, str) or _is_number(v) for v in values)


def _anything_but(argument: Any, value: Any) -> bool:
    values = argument if isinstance(argument, list) else [argument]
    return not any(_same(v, value) for v in values)


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric_valid(conditions: Any) -> bool:
    if not isinstance(conditions, list) or not conditions or len(conditions) % 2:
        return False
    pairs = zip(conditions[::2], conditions[1::2], strict=True)
    return all(op in COMPARISONS and _is_number(n) for op, n in pairs)


def _numeric(conditions: list[Any], value: Any) -> bool:
    """`{"numeric": [">=", 5, "<", 10]}`: matches numbers only; a string that looks like a
    number is not one."""
    if not _is_number(value):
        return False
    pairs = zip(conditions[::2], conditions[1::2], strict=True)
    return all(COMPARISONS[op](value, bound) for op, bound in pairs)


# `exists` is the one operator that also judges a field that is not there: see _rule_matches.
OPERATORS: dict[str, Operator] = {
    "prefix": Operator(_is_text_or_ignoring_case, _affix(str.startswith)),
    "suffix": Operator(_is_text_or_ignoring_case, _affix(str.endswith)),
    "equals-ignore-case": Operator(
        lambda a: isinstance(a, str),
        lambda a, v: isinstance(v, str) and v.casefold() == a.casefold(),
    ),
    "anything-but": Operator(_anything_but_valid, _anything_but),
    "numeric": Operator(_numeric_valid, _numeric),
    "exists": Operator(lambda a: isinstance(a, bool), lambda a, v: bool(a)),
}


def _same(rule: Any, value: Any) -> bool:
    """A plain value matches the same JSON value, character by character: `true` is not `1`,
    `"5"` is not `5`, and "300, 300.0, and 3.0e2 are not considered equal" (the Lambda guide's
    note under its filter rule syntax; 300.0 and 3.0e2 parse alike, the rest is told apart)."""
    return type(rule) is type(value) and rule == value


# -- what Lambda accepts ----------------------------------------------------------------------
def valid_pattern(text: object) -> bool:
    """Whether Lambda accepts `text` as a filter's Pattern. AWS answers "Invalid filter pattern
    definition." to a pattern that is no JSON object (`null`, a plain string), to a field whose
    rule is a plain value rather than a list (`{"eventSource": "aws:sqs"}`) and to an empty list
    (`{"eventSource": []}`): all recorded against AWS in localstack/localstack,
    tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_sqs.snapshot.json,
    test_sqs_invalid_event_filter. An operator outside OPERATORS, or one whose argument has
    another shape, is refused the same way (the module's sources)."""
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
            if not all(isinstance(r, dict) and r and _valid_fields(r) for r in rule):
                return False
        elif isinstance(rule, dict):
            if not rule or not _valid_fields(rule):
                return False
        elif not isinstance(rule, list) or not rule or not all(map(_valid_rule, rule)):
            return False
    return True


def _valid_rule(rule: Any) -> bool:
    if not isinstance(rule, dict):
        return rule is None or isinstance(rule, (str, bool)) or _is_number(rule)
    if len(rule) != 1:
        return False
    name, argument = next(iter(rule.items()))
    operator = OPERATORS.get(name)
    return operator is not None and operator.valid(argument)


# -- what a pattern matches -------------------------------------------------------------------
def _rule_matches(rule: Any, value: Any, present: bool) -> bool:
    if isinstance(rule, dict):
        name, argument = next(iter(rule.items()))
        if name == "exists":
            # "the Exists operator only works on leaf nodes ... It doesn't match intermediate
            # nodes" (the Lambda guide, under its filter rule syntax).
            return bool(argument) == (present and not isinstance(value, dict))
        if not present:
            return False
        # A field holding an array matches if one of its elements does (EventBridge User
        # Guide, "Event patterns", matching values in arrays).
        values = value if isinstance(value, list) else [value]
        return any(OPERATORS[name].matches(argument, v) for v in values)
    if not present:
        return False
    values = value if isinstance(value, list) else [value]
    return any(_same(rule, v) for v in values)


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether an accepted pattern (valid_pattern) matches `event`: every field's rule holds,
    and of a `$or`, one of its patterns."""
    if not isinstance(event, dict):
        return False
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in rule):
                return False
        elif isinstance(rule, dict):
            if not matches(rule, event.get(key)):
                return False
        elif not any(_rule_matches(r, event.get(key), key in event) for r in rule):
            return False
    return True


def passes(criteria: dict[str, Any] | None, record: dict[str, Any]) -> bool:
    """No criteria lets everything through; otherwise any one filter must match."""
    filters = (criteria or {}).get("Filters") or []
    if not filters:
        return True
    return any(matches(json.loads(f["Pattern"]), record) for f in filters)


def as_sqs_filtered(record: dict[str, Any]) -> dict[str, Any]:
    """An SQS record as Lambda's filters see it: a body that is JSON as its object, any other
    body as its text (Lambda Developer Guide, "Using event filtering with an Amazon SQS event
    source": filtering is on the `body` key; a JSON body is filtered by its properties)."""
    try:
        body = json.loads(record["body"])
    except (TypeError, ValueError):
        return record
    return {**record, "body": body}
