"""CloudFormation's intrinsic functions, resolved against what the stack has made so far
(CloudFormation User Guide, "Intrinsic function reference" and "Pseudo parameters reference")."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pocctl.local.cloudformation.template import TemplateError

NO_VALUE = object()  # AWS::NoValue: the property is left out
SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]+)\}")


@dataclass
class Scope:
    """What a template's values may refer to."""

    parameters: dict[str, Any]
    pseudo: dict[str, Any]
    mappings: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    # logical id -> what Ref returns; (logical id, attribute) -> Fn::GetAtt's value
    refs: dict[str, str] = field(default_factory=dict)
    attribute: Callable[[str, str], Any] = lambda logical_id, name: None

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Template format error: Unresolved resource dependencies [{name}]")


def references(value: Any) -> set[str]:
    """The names a value refers to with Ref, Fn::GetAtt or Fn::Sub (for the creation order)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
        if "Fn::Sub" in value:
            found |= {name.split(".")[0] for name in sub_variables(value["Fn::Sub"])}
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def attributes_asked(value: Any) -> set[tuple[str, str]]:
    """The (logical id, attribute) pairs a value asks for with Fn::GetAtt or Fn::Sub's
    ${Name.Attribute}; an attribute given by an intrinsic is left to when it resolves."""
    found: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        target = value.get("Fn::GetAtt")
        if isinstance(target, str) and "." in target:
            found.add(tuple_of(target.split(".", 1)))
        elif isinstance(target, list) and len(target) == 2 and isinstance(target[1], str):
            found.add(tuple_of(target))
        if "Fn::Sub" in value:
            names = sub_variables(value["Fn::Sub"])
            found |= {tuple_of(name.split(".", 1)) for name in names if "." in name}
        for item in value.values():
            found |= attributes_asked(item)
    elif isinstance(value, list):
        for item in value:
            found |= attributes_asked(item)
    return found


def sub_variables(sub: Any) -> list[str]:
    """The ${Name} and ${Name.Attribute} an Fn::Sub refers to outside its own variable map."""
    text, names = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
    return [
        name
        for literal, name in SUB_VARIABLE.findall(str(text))
        if not literal and name not in names
    ]


def tuple_of(pair: list[Any]) -> tuple[str, str]:
    return str(pair[0]), str(pair[1])


def resolve(value: Any, scope: Scope) -> Any:
    if isinstance(value, list):
        items = [resolve(item, scope) for item in value]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        function = FUNCTIONS.get(key)
        if function is not None:
            return function(argument, scope)
    resolved = {key: resolve(item, scope) for key, item in value.items()}
    return {key: item for key, item in resolved.items() if item is not NO_VALUE}


def _ref(argument: Any, scope: Scope) -> Any:
    if argument == "AWS::NoValue":
        return NO_VALUE
    return scope.ref(str(argument))


def _get_att(argument: Any, scope: Scope) -> Any:
    if isinstance(argument, str):
        argument = argument.split(".", 1)
    logical_id, name = str(argument[0]), str(resolve(argument[1], scope))
    if logical_id not in scope.refs:
        raise TemplateError(
            f"Template error: instance of Fn::GetAtt references undefined resource {logical_id}"
        )
    found = scope.attribute(logical_id, name)
    if found is None:
        raise TemplateError(
            f"Template error: resource {logical_id} does not support attribute type {name} "
            "in Fn::GetAtt"
        )
    return found


def _sub(argument: Any, scope: Scope) -> str:
    text, names = (
        (argument[0], resolve(argument[1], scope))
        if isinstance(argument, list)
        else (
            argument,
            {},
        )
    )

    def value(match: re.Match[str]) -> str:
        if match.group(1):  # ${!Literal} writes ${Literal}
            return "${" + match.group(2) + "}"
        name = match.group(2)
        if name in names:
            return str(names[name])
        if "." in name and name.split(".", 1)[0] in scope.refs:
            return str(_get_att(name.split(".", 1), scope))
        return str(scope.ref(name))

    return SUB_VARIABLE.sub(value, str(text))


def _join(argument: Any, scope: Scope) -> str:
    delimiter, items = argument
    return str(delimiter).join(str(item) for item in resolve(items, scope))


def _select(argument: Any, scope: Scope) -> Any:
    index, items = resolve(argument, scope)
    return items[int(index)]


def _split(argument: Any, scope: Scope) -> list[str]:
    delimiter, text = resolve(argument, scope)
    return str(text).split(str(delimiter))


def _find_in_map(argument: Any, scope: Scope) -> Any:
    name, top, second = resolve(argument, scope)
    return scope.mappings[name][top][second]


def _if(argument: Any, scope: Scope) -> Any:
    condition, when_true, when_false = argument
    return resolve(when_true if scope.conditions[condition] else when_false, scope)


def _equals(argument: Any, scope: Scope) -> bool:
    left, right = resolve(argument, scope)
    return bool(str(left) == str(right))


def _base64(argument: Any, scope: Scope) -> str:
    return base64.b64encode(str(resolve(argument, scope)).encode()).decode()


def _get_azs(argument: Any, scope: Scope) -> list[str]:
    region = resolve(argument, scope) or scope.pseudo["AWS::Region"]
    return [f"{region}{zone}" for zone in "abc"]


def _condition(argument: Any, scope: Scope) -> bool:
    return scope.conditions[str(argument)]


FUNCTIONS: dict[str, Callable[[Any, Scope], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::FindInMap": _find_in_map,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": lambda argument, scope: not resolve(argument, scope)[0],
    "Fn::And": lambda argument, scope: all(resolve(argument, scope)),
    "Fn::Or": lambda argument, scope: any(resolve(argument, scope)),
    "Fn::Base64": _base64,
    "Fn::GetAZs": _get_azs,
    "Condition": _condition,
}
