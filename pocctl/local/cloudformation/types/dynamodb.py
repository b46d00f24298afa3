"""AWS::DynamoDB::Table (CloudFormation Template Reference)."""

from __future__ import annotations

from typing import Any

from pocctl.local.cloudformation.providers import (
    Made,
    Provider,
    Request,
    delete_quietly,
    only,
    stabilize,
    until_gone,
)
from pocctl.local.cloudformation.system_tags import gets_stack_tags

PASSED_AS_IS = (
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "TableClass",
    "DeletionProtectionEnabled",
    "OnDemandThroughput",
)


def _bools(value: Any) -> Any:
    """Template booleans may be strings ("true"); the API takes booleans."""
    if isinstance(value, dict):
        return {key: _bools(item) for key, item in value.items()}
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


class Table:
    stack_tags = gets_stack_tags("AWS::DynamoDB::Table")

    def create(self, request: Request) -> Made:
        ddb = request.client("dynamodb")
        props = request.properties
        name = request.name("TableName", 255)
        arguments: dict[str, Any] = only(props, *PASSED_AS_IS)
        if "DeletionProtectionEnabled" in arguments:
            arguments["DeletionProtectionEnabled"] = _bools(arguments["DeletionProtectionEnabled"])
        if "StreamSpecification" in props:
            # The template names only the view type; "StreamEnabled" is implied.
            view = props["StreamSpecification"]["StreamViewType"]
            arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        if "SSESpecification" in props:
            sse = _bools(props["SSESpecification"])
            arguments["SSESpecification"] = {
                {"SSEEnabled": "Enabled", "SSEType": "SSEType", "KMSMasterKeyId": "KMSMasterKeyId"}[
                    key
                ]: value
                for key, value in sse.items()
            }
        if request.all_tags():
            arguments["Tags"] = request.all_tags()
        ddb.create_table(TableName=name, **arguments)
        described: dict[str, Any] = {}

        def active() -> bool:
            try:
                described.update(ddb.describe_table(TableName=name)["Table"])
            except ddb.exceptions.ResourceNotFoundException:
                return False  # a new table may not show yet (eventual consistency)
            return bool(described["TableStatus"] == "ACTIVE")

        stabilize(f"table {name}", active)
        if "TimeToLiveSpecification" in props:
            ttl = _bools(props["TimeToLiveSpecification"])
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr:
            ddb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification=_bools(pitr)
            )
        attributes = {"Arn": described["TableArn"]}
        if described.get("LatestStreamArn"):
            attributes["StreamArn"] = described["LatestStreamArn"]
        return Made(name, attributes)

    def delete(self, request: Request, made: Made) -> None:
        ddb = request.client("dynamodb")
        delete_quietly(lambda: ddb.delete_table(TableName=made.physical_id))
        until_gone(
            f"table {made.physical_id}", lambda: ddb.describe_table(TableName=made.physical_id)
        )


PROVIDERS: dict[str, Provider] = {"AWS::DynamoDB::Table": Table()}
