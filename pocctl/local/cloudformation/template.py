"""Reading a template: JSON or YAML with CloudFormation's short-form tags (`!Ref`, `!Sub`, ...).

"For the short form, the function name is a YAML tag" (CloudFormation User Guide, "Intrinsic
function reference"): `!GetAtt A.B` is `{"Fn::GetAtt": ["A", "B"]}`, `!Ref X` is
`{"Ref": "X"}`, every other `!Name v` is `{"Fn::Name": v}`.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

Template = dict[str, Any]
SHORT_FORMS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "Condition",
)


class TemplateError(ValueError):
    """A template CloudFormation refuses (ValidationError)."""


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    pass


def _value(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _short(name: str) -> Any:
    key = "Ref" if name == "Ref" else "Condition" if name == "Condition" else f"Fn::{name}"

    def construct(loader: _Loader, node: yaml.Node) -> Any:
        return {key: _value(loader, node)}

    return construct


def _get_att(loader: _Loader, node: yaml.Node) -> Any:
    value = _value(loader, node)
    return {"Fn::GetAtt": value.split(".", 1) if isinstance(value, str) else value}


for _name in (*SHORT_FORMS, "Ref"):
    _Loader.add_constructor(f"!{_name}", _short(_name))
_Loader.add_constructor("!GetAtt", _get_att)
# CloudFormation reads dates as the strings they are written as ("2012-10-17").
_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)


def parse(body: str) -> Template:
    try:
        loaded = json.loads(body)
    except ValueError:
        try:
            loaded = yaml.load(body, Loader=_Loader)
        except yaml.YAMLError as exc:
            raise TemplateError(f"Template format error: {exc}") from exc
    if not isinstance(loaded, dict):
        raise TemplateError("Template format error: not a JSON or YAML object")
    if not isinstance(loaded.get("Resources"), dict) or not loaded["Resources"]:
        raise TemplateError("Template format error: At least one Resources member must be defined.")
    return loaded
