"""What every step's `template` shares: a CloudFormation resource, and references to others.

Values that CloudFormation knows only at deploy time (the account, the region, another
resource's id or attribute) are written inside strings as markers (`variable`), each step
building its values with the very functions `apply` uses; `intrinsics` turns the strings that
hold markers into Fn::Sub, Ref or Fn::GetAtt (CloudFormation User Guide, "Fn::Sub"). A marker
carries a nonce made when pocctl starts, so no user's value can be one: a `--env` value of
"${Queue}" or "${AWS::Region}" is text, as `up` sets it, and stays text in the template.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from typing import Any

Resources = dict[str, dict[str, Any]]  # logical id -> {"Type": ..., "Properties": ...}

OPEN = f"\ue000{secrets.token_hex(8)}{{"
CLOSE = "}\ue000"
MARKER = re.compile(re.escape(OPEN) + r"([A-Za-z0-9:]+)(?:\.([A-Za-z0-9.]+))?" + re.escape(CLOSE))
PSEUDO = "AWS::"


def variable(name: str) -> str:
    """An Fn::Sub variable (a pseudo parameter, a logical id, "Id.Attribute") inside a value."""
    return f"{OPEN}{name}{CLOSE}"


# CloudFormation's pseudo parameters (User Guide, "Pseudo parameters").
ACCOUNT = variable("AWS::AccountId")
REGION = variable("AWS::Region")
PARTITION = variable("AWS::Partition")
URL_SUFFIX = variable("AWS::URLSuffix")


def logical_id(key: str, part: str = "") -> str:
    """A step's resource in the template: "writer-role" -> "WriterRole"; a step made of several
    resources names the others by `part` ("api", "stage" -> "ApiStage")."""
    words = f"{key}-{part}" if part else key
    return "".join(word[:1].upper() + word[1:] for word in words.split("-"))


def ref(key: str, part: str = "") -> str:
    """What Ref returns for a step's resource (its name, URL or id, by type)."""
    return variable(logical_id(key, part))


def attribute(key: str, name: str, part: str = "") -> str:
    """One of a step's resource's Fn::GetAtt attributes ("StreamArn")."""
    return variable(logical_id(key, part) + "." + name)


def intrinsics(value: Any) -> Any:
    """`value` with every string that holds a marker as CloudFormation's function: a bare
    reference as Ref or Fn::GetAtt, anything else as Fn::Sub, where every `${` that is text
    is written `${!` ("To write a dollar sign and curly braces (${}) literally, add an
    exclamation point", User Guide, Fn::Sub). A string without a marker stays as it is."""
    if isinstance(value, dict):
        return {key: intrinsics(item) for key, item in value.items()}
    if isinstance(value, list):
        return [intrinsics(item) for item in value]
    if isinstance(value, str) and OPEN in value:
        return function_of(value)
    return value


def function_of(text: str) -> dict[str, Any]:
    whole = MARKER.fullmatch(text)
    if whole is not None and not whole.group(1).startswith(PSEUDO):
        if whole.group(2):
            return {"Fn::GetAtt": [whole.group(1), whole.group(2)]}
        return {"Ref": whole.group(1)}
    pieces, last = [], 0
    for marker in MARKER.finditer(text):
        name = marker[0][len(OPEN) : -len(CLOSE)]
        pieces += [literally(text[last : marker.start()]), "${" + name + "}"]
        last = marker.end()
    return {"Fn::Sub": "".join([*pieces, literally(text[last:])])}


def literally(text: str) -> str:
    return text.replace("${", "${!")


def fingerprint(value: Any) -> str:
    """A short hash of `value` as the template writes it (the same for the same settings, in
    any run): for a logical id that must change when `value` does."""
    text = json.dumps(intrinsics(value), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def cfn_resource(
    kind: str, properties: dict[str, Any], depends_on: Iterable[str] = ()
) -> dict[str, Any]:
    """A resource of type `kind`; `depends_on` are logical ids (the step graph's, mostly)."""
    made: dict[str, Any] = {"Type": kind, "Properties": properties}
    after = sorted(set(depends_on))
    if after:
        made["DependsOn"] = after
    return made


def tag_entries(values: dict[str, str]) -> list[dict[str, str]]:
    """CloudFormation's tag list, in a stable order."""
    return [{"Key": key, "Value": values[key]} for key in sorted(values)]
