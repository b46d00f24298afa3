"""CloudFormation in `pocctl local` on AWS's clock moved by the test (a module of its own: its
emulator shares moto's state, the process's, with test_local_cloudformation.py's)."""

from __future__ import annotations

from typing import Any

from pocctl.local.aws.timing import Timing
from tests.clocked import Clock, clocked_emulator
from tests.clocked import client as clocked_client
from tests.test_local_cloudformation import LIMITED, events, until


def test_a_stack_deleted_while_it_is_created_is_deleted_once_created() -> None:
    """DeleteStack during CREATE_IN_PROGRESS is accepted (cloudtools/stacker#422); on AWS's
    clock, moved by the test, the table stays CREATING until the test says so."""
    clock = Clock()
    with clocked_emulator(clock, Timing()) as running:
        cfn = clocked_client(running, "cloudformation")
        dynamodb = clocked_client(running, "dynamodb")
        made = cfn.create_stack(StackName="hasty", TemplateBody=LIMITED)
        until(lambda: dynamodb.list_tables()["TableNames"] == ["limited"], "the table is asked for")
        cfn.delete_stack(StackName="hasty")
        assert cfn.describe_stacks(StackName="hasty")["Stacks"][0]["StackStatus"] == (
            "CREATE_IN_PROGRESS"
        )
        clock.advance("table_creating")

        def deleted() -> dict[str, Any] | None:
            clock.advance("table_deleting")  # however late the table's delete was asked for
            found: dict[str, Any] = cfn.describe_stacks(StackName=made["StackId"])["Stacks"][0]
            return None if found["StackStatus"].endswith("_IN_PROGRESS") else found

        final = until(deleted, "the queued delete ends")
        assert final["StackStatus"] == "DELETE_COMPLETE"
        statuses = [s for logical, s, _ in events(running, made["StackId"]) if logical == "hasty"]
        assert statuses == [
            "CREATE_IN_PROGRESS",
            "CREATE_COMPLETE",
            "DELETE_IN_PROGRESS",
            "DELETE_COMPLETE",
        ]
        assert dynamodb.list_tables()["TableNames"] == []
