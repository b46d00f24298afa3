"""`pocctl local`'s CloudFormation tags with its stack (aws:cloudformation:*) only the resource
types AWS's registry schemas say it does."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

from pocctl.local.cloudformation.system_tags import SYSTEM_TAGS, gets_stack_tags
from pocctl.local.cloudformation.types import PROVIDERS

# cfn-lint's copy of the registry schemas, found without importing cfn-lint: its import takes
# a second and a half of CPU (sympy), which every test worker would pay as it collects.
SCHEMAS = Path(str(find_spec("cfnlint").origin)).parent / "data" / "schemas"  # type: ignore[union-attr]


def schema_says(resource_type: str) -> bool:
    """`tagging.cloudFormationSystemTags` of the type's us-east-1 registry schema."""
    listed = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())[resource_type]
    schema = json.loads((SCHEMAS / "resources" / f"{listed}.json").read_text())
    return bool(schema.get("tagging", {}).get("cloudFormationSystemTags", False))


def test_the_table_is_the_registry_schemas() -> None:
    assert {t: schema_says(t) for t in SYSTEM_TAGS} == SYSTEM_TAGS


def test_every_provider_tags_with_the_stack_as_its_schema_says() -> None:
    assert {t: p.stack_tags for t, p in PROVIDERS.items()} == {
        t: gets_stack_tags(t) for t in PROVIDERS
    }
    assert not PROVIDERS["AWS::SQS::Queue"].stack_tags
    assert not PROVIDERS["AWS::DynamoDB::Table"].stack_tags
    assert all(schema_says(t) == gets_stack_tags(t) for t in PROVIDERS)
