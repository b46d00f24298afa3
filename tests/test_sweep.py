"""After `down`, a sweep confirms nothing of the stack is left, or lists what is and how to
remove it; temporary test-order queues left by a killed test-order are removed by `down`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.core.context import Context
from pocctl.core.session import new_session
from pocctl.ops.sweep import sweep
from pocctl.pipeline.stack import build_steps

from .conftest import fresh
from .faults import FailCalls
from .inventory import everything, flatten

TAGS = {"pocctl:stack": "POC"}


@pytest.fixture
def session(aws: None) -> Any:
    return new_session(region_name="us-east-1")


def test_a_clean_down_says_the_sweep_found_nothing(runner: CliRunner, session: Any) -> None:
    up = runner.invoke(cli, ["up"])
    assert up.exit_code == 0, up.output
    result = runner.invoke(cli, ["down", "--yes"])
    assert result.exit_code == 0
    assert (
        "Swept us-east-1: nothing tagged pocctl:stack=POC is left (tagging API, IAM roles, "
        "API Gateway, the table and the mappings checked)"
    ) in result.output
    assert flatten(everything(session)) == []


def test_leftovers_of_the_stack_are_listed_with_how_to_remove_them(
    runner: CliRunner, session: Any
) -> None:
    up = runner.invoke(cli, ["up"])
    assert up.exit_code == 0, up.output
    # Things tagged as the stack's that its steps don't manage (made by hand, or by an older
    # version of pocctl), and look-alikes that are not the stack's at all.
    sqs, iam, logs = session.client("sqs"), session.client("iam"), session.client("logs")
    sqs.create_queue(QueueName="POC-Extra", tags=TAGS)
    sqs.create_queue(QueueName="POC-Untagged")
    logs.create_log_group(logGroupName="/pocctl/POC-old", tags=TAGS)
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    iam.create_role(
        RoleName="POC-Old-Role",
        AssumeRolePolicyDocument=trust,
        Tags=[{"Key": "pocctl:stack", "Value": "POC"}],
    )
    iam.create_role(RoleName="POC-Someone-Elses", AssumeRolePolicyDocument=trust)

    result = runner.invoke(cli, ["down", "--yes"])
    assert result.exit_code == 1
    assert (
        "Error: The sweep after down found 3 resource(s) tagged pocctl:stack=POC still in "
        "us-east-1:"
    ) in result.output
    assert "  - SQS queue POC-Extra" in result.output
    assert "  - log group /pocctl/POC-old" in result.output
    assert "  - IAM role POC-Old-Role" in result.output
    assert "aws sqs delete-queue --queue-url " in result.output
    assert "aws logs delete-log-group --log-group-name /pocctl/POC-old --region us-east-1" in (
        result.output
    )
    assert "aws iam delete-role --role-name POC-Old-Role" in result.output
    assert "POC-Untagged" not in result.output and "POC-Someone-Elses" not in result.output

    document = json.loads(runner.invoke(cli, ["down", "--yes", "--json"]).stdout)
    assert document["ok"] is False
    assert sorted(item["name"] for item in document["left"]) == [
        "/pocctl/POC-old",
        "POC-Extra",
        "POC-Old-Role",
    ]


def test_down_removes_test_order_queues_a_killed_test_order_left(
    runner: CliRunner, session: Any
) -> None:
    up = runner.invoke(cli, ["up"])
    assert up.exit_code == 0, up.output
    sqs = session.client("sqs")
    sqs.create_queue(QueueName="POC-test-order-0badf00d", tags=TAGS)
    sqs.create_queue(QueueName="POC-test-order-notours")  # untagged: not pocctl's
    result = runner.invoke(cli, ["down", "--yes"])
    assert result.exit_code == 0, result.output
    assert "removed POC-test-order-0badf00d, a test-order queue left by an interrupted" in (
        result.output
    )
    assert everything(session)["queues"] == ["POC-test-order-notours"]


def test_a_sweep_that_is_not_allowed_says_so_instead_of_claiming_success(
    deployed: Context,
) -> None:
    ctx = fresh(deployed)
    denied = FailCalls(
        ctx.client("resourcegroupstaggingapi"), "GetResources", "AccessDeniedException", "no", 1
    )
    result = sweep(ctx, build_steps(ctx.config))
    assert denied.failed == 1
    assert result.left == []
    assert result.incomplete is not None
    assert "could not sweep for leftovers (AccessDeniedException)" in result.incomplete
    assert "tag:GetResources" in result.incomplete


def test_what_goes_between_two_of_the_sweeps_calls_counts_as_gone(deployed: Context) -> None:
    # A mapping listed, then gone when its tags are read; a table described, then gone when
    # its tags are read: AWS finished deleting them meanwhile. Nothing is left, nothing failed.
    ctx = fresh(deployed)
    gone = "ResourceNotFoundException"
    mappings = FailCalls(ctx.client("lambda"), "ListTags", gone, "Mapping not found", 2)
    table = FailCalls(ctx.client("dynamodb"), "ListTagsOfResource", gone, "Table not found", 2)
    result = sweep(ctx, build_steps(ctx.config))
    assert mappings.failed == 2, "each of the two mappings was read and found gone"
    assert table.failed >= 1, "the table was read and found gone"
    assert result.incomplete is None
    kinds = {item.kind for item in result.left}
    assert "event source mapping" not in kinds and "DynamoDB table" not in kinds
