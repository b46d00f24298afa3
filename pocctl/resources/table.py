"""The DynamoDB orders table: orderID hash key, on-demand, stream of new images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from pocctl.core.aws import (
    NO_FIGURE,
    aws_errors,
    delete,
    is_not_found,
    none_if_absent,
    poll,
    tag_dict,
    tag_list,
)
from pocctl.core.context import Context, Outputs
from pocctl.core.errors import StepError
from pocctl.core.reporting import Outcome
from pocctl.resources.base import (
    Busy,
    Change,
    Leftover,
    Missing,
    Plan,
    Step,
    arn_parts,
    destroy_ours,
    diff,
    is_ours,
    removal,
    require_ours,
)
from pocctl.resources.cloudformation import (
    Resources,
    attribute,
    cfn_resource,
    logical_id,
    tag_entries,
)

KEY = "orderID"
Table = dict[str, Any]  # DescribeTable's "Table"
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}


def definition(table_name: str) -> dict[str, Any]:
    """The table as CreateTable makes it (the stack's tags aside)."""
    return {
        "TableName": table_name,
        "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": KEY, "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": STREAM,
    }


def table_leftover(ctx: Context, name: str) -> Leftover | None:
    """The stack's table of that name, if it is still there (and whether it is DELETING)."""
    ddb = ctx.client("dynamodb")
    table = none_if_absent(lambda: ddb.describe_table(TableName=name))
    if table is None:
        return None
    arn = table["Table"]["TableArn"]
    tags = none_if_absent(lambda: ddb.list_tags_of_resource(ResourceArn=arn))
    if tags is None or not is_ours(ctx, tag_dict(tags["Tags"])):
        return None  # gone meanwhile, or a look-alike that is not the stack's
    deleting = table["Table"].get("TableStatus") == "DELETING"
    command = f"aws dynamodb delete-table --table-name {name}"
    return Leftover(TableStep.kind, name, removal(ctx, command), deleting)


@dataclass(eq=False, kw_only=True)
class TableStep(Step[Table]):
    kind: ClassVar[str] = "DynamoDB table"
    arns: ClassVar[tuple[str, str] | None] = ("dynamodb", "table/")
    table_name: str
    key: str

    @property
    def name(self) -> str:
        return self.table_name

    def _describe(self, ctx: Context) -> dict[str, Any] | None:
        try:
            table: dict[str, Any] = ctx.client("dynamodb").describe_table(
                TableName=self.table_name
            )["Table"]
            return table
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise

    def _tags(self, ctx: Context, arn: str) -> dict[str, str]:
        return tag_dict(ctx.client("dynamodb").list_tags_of_resource(ResourceArn=arn)["Tags"])

    def outputs(self, ctx: Context, state: Table) -> Outputs:
        return Outputs(stream_arn=state.get("LatestStreamArn"))

    def plan(self, ctx: Context) -> Plan[Table]:
        with aws_errors(self.key, "DescribeTable"):
            table = self._describe(ctx)
            if table is None:
                return Plan.create()
            require_ours(ctx, self, self._tags(ctx, table["TableArn"]))
        if table.get("TableStatus") == "DELETING":
            # Gone in a moment; its stream ARN must never reach a mapping.
            return Plan.create(Missing("being deleted: will wait until it is gone, then create it"))
        if table["KeySchema"] != [{"AttributeName": KEY, "KeyType": "HASH"}]:
            raise StepError(
                self.key,
                "DescribeTable",
                "KeySchemaMismatch",
                f"table {self.table_name} has key {table['KeySchema']}, not {KEY} (HASH)",
                "A table's key cannot be changed: run `pocctl down` and `pocctl up` to rebuild it.",
            )
        billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        stream = table.get("StreamSpecification") or {"StreamEnabled": False}
        changes: list[Change] = []
        if table.get("TableStatus") in ("CREATING", "UPDATING"):
            changes.append(Busy(table["TableStatus"]))
        changes += diff("billing mode", billing, "PAY_PER_REQUEST")
        changes += diff("stream", stream, STREAM)
        return Plan.from_changes(changes, table)

    def _wait_active(self, ctx: Context) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def active() -> bool:
            found.update(self._describe(ctx) or {})
            return found.get("TableStatus") == "ACTIVE"

        poll(
            ctx,
            active,
            what=f"table {self.table_name} to become ACTIVE",
            step=self.key,
            # CreateTable is asynchronous (DynamoDB API reference, CreateTable), with no duration.
            why=f"DynamoDB creates a table (CREATING) before it can be used; {NO_FIGURE}",
        )
        return found

    def apply(self, ctx: Context, plan: Plan[Table]) -> Table:
        ddb = ctx.client("dynamodb")
        table: dict[str, Any] | None = plan.current
        if table is None:
            with aws_errors(self.key, "DescribeTable"):
                # A table of this name still DELETING refuses CreateTable (ResourceInUse).
                if self._describe(ctx) is not None:
                    ctx.reporter.step_started(self.key, self.title, "waiting until deleted:")
                    poll(
                        ctx,
                        lambda: self._describe(ctx) is None,
                        what=f"the old table {self.table_name} to finish deleting",
                        step=self.key,
                        # DeleteTable: "the specified table is in the DELETING state until
                        # DynamoDB completes the deletion" (API reference), with no duration.
                        why="DynamoDB refuses the name while a table of that name is DELETING; "
                        f"{NO_FIGURE}",
                    )
            with aws_errors(self.key, "CreateTable"):
                ddb.create_table(**definition(self.table_name), Tags=tag_list(ctx.config.tags))
        else:
            table = self._wait_active(ctx)
            if table.get("BillingModeSummary", {}).get("BillingMode") != "PAY_PER_REQUEST":
                with aws_errors(self.key, "UpdateTable"):
                    ddb.update_table(TableName=self.table_name, BillingMode="PAY_PER_REQUEST")
                self._wait_active(ctx)
            stream = table.get("StreamSpecification") or {}
            if stream != STREAM:
                with aws_errors(self.key, "UpdateTable"):
                    if stream.get("StreamEnabled"):
                        # The view type can't change in place: disable, then enable anew.
                        ddb.update_table(
                            TableName=self.table_name,
                            StreamSpecification={"StreamEnabled": False},
                        )
                        self._wait_active(ctx)
                    ddb.update_table(TableName=self.table_name, StreamSpecification=STREAM)
        return self._wait_active(ctx)

    @classmethod
    def leftovers(cls, ctx: Context, steps: Sequence[Any]) -> list[Leftover]:
        """Looked up by name too: a DELETING table must be told apart from one left behind."""
        found = [table_leftover(ctx, step.table_name) for step in steps]
        return [leftover for leftover in found if leftover is not None]

    @classmethod
    def leftover_at(cls, ctx: Context, arn: str) -> Leftover | None:
        return table_leftover(ctx, arn_parts(arn)[1].removeprefix("table/"))

    def destroy(self, ctx: Context) -> Outcome:
        return destroy_ours(
            ctx,
            self,
            "DescribeTable",
            lambda: self._describe(ctx),
            lambda table: is_ours(ctx, self._tags(ctx, table["TableArn"])),
            lambda table: self._delete(ctx, table),
        )

    def _delete(self, ctx: Context, table: dict[str, Any]) -> Outcome:
        ddb = ctx.client("dynamodb")
        if table.get("DeletionProtectionEnabled"):
            ctx.wait_turn()
            with aws_errors(self.key, "UpdateTable"):
                ddb.update_table(TableName=self.table_name, DeletionProtectionEnabled=False)
        delete(ctx, self.key, "DeleteTable", lambda: ddb.delete_table(TableName=self.table_name))
        return Outcome.DELETED

    def template_outputs(self, ctx: Context) -> Outputs:
        """What the template hands on: the stream's ARN, which the stream mapping reads."""
        return Outputs(stream_arn=attribute(self.key, "StreamArn"))

    def template(self, ctx: Context) -> Resources:
        """The table in CloudFormation."""
        properties = definition(self.table_name)
        # AWS::DynamoDB::Table's StreamSpecification has the view type only: a stream is on
        # when it is given (CloudFormation User Guide, AWS::DynamoDB::Table StreamSpecification).
        properties["StreamSpecification"] = {"StreamViewType": STREAM["StreamViewType"]}
        return {
            logical_id(self.key): cfn_resource(
                "AWS::DynamoDB::Table", {**properties, "Tags": tag_entries(ctx.config.tags)}
            )
        }
