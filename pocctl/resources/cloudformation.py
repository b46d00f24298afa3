"""What every step's `template` shares: a CloudFormation resource, and references to others.

Values that CloudFormation knows only at deploy time (the account, the region, another
resource's id or attribute) are written inside strings as Fn::Sub variables (`${AWS::Region}`,
`${Api}`, `${Table.StreamArn}`, CloudFormation User Guide, "Fn::Sub"): each step builds its
values with the very functions `apply` uses, and `ops/export.py` turns the strings that hold
such variables into Fn::Sub, Ref or Fn::GetAtt.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Resources = dict[str, dict[str, Any]]  # logical id -> {"Type": ..., "Properties": ...}

# CloudFormation's pseudo parameters, as Fn::Sub variables (User Guide, "Pseudo parameters").
ACCOUNT = "${AWS::AccountId}"
REGION = "${AWS::Region}"
PARTITION = "${AWS::Partition}"
URL_SUFFIX = "${AWS::URLSuffix}"


def logical_id(key: str, part: str = "") -> str:
    """A step's resource in the template: "writer-role" -> "WriterRole"; a step made of several
    resources names the others by `part` ("api", "stage" -> "ApiStage")."""
    words = f"{key}-{part}" if part else key
    return "".join(word[:1].upper() + word[1:] for word in words.split("-"))


def ref(key: str, part: str = "") -> str:
    """What Ref returns for a step's resource (its name, URL or id, by type)."""
    return "${" + logical_id(key, part) + "}"


def attribute(key: str, name: str, part: str = "") -> str:
    """One of a step's resource's Fn::GetAtt attributes ("StreamArn")."""
    return "${" + logical_id(key, part) + "." + name + "}"


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
