"""Retries botocore won't do: IAM role propagation, updates in progress, SQS name reuse.

These count sleeps and name the step that failed, so they run the engine one step at a time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pocctl.core.context import API_GATEWAY_RETRY, Context, RetryingClient
from pocctl.core.errors import StepError
from pocctl.core.reporting import Outcome
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps

from .conftest import Sleeps, fresh
from .faults import FailCalls

NOT_YET_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
NO_RECEIVE = "The provided execution role does not have permissions to call ReceiveMessage on SQS"


def test_create_function_is_retried_while_the_new_role_propagates(
    ctx: Context, sleeps: Sleeps
) -> None:
    fault = FailCalls(
        ctx.client("lambda"),
        "CreateFunction",
        "InvalidParameterValueException",
        NOT_YET_ASSUMABLE,
        4,
    )
    report = Engine(ctx, build_steps(ctx.config), workers=1).up()
    assert report.ok
    assert fault.failed == 4
    # Short intervals, capped at 0.5 s: a retry lands soon after the role becomes usable.
    assert sleeps[:4] == [0.25, 0.375, 0.5, 0.5]  # recorded instead of slept


# The stream mapping's own wording while the role propagates (aws-samples/lambda-refarch-webapp#7).
NO_STREAM = (
    "Cannot access stream arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/x. "
    "Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and "
    "ListStreams Actions on your stream in IAM."
)


@pytest.mark.parametrize("message", [NO_RECEIVE, NO_STREAM], ids=["sqs", "stream"])
def test_mapping_creation_is_retried_while_the_role_propagates(
    ctx: Context, sleeps: Sleeps, message: str
) -> None:
    fault = FailCalls(
        ctx.client("lambda"),
        "CreateEventSourceMapping",
        "InvalidParameterValueException",
        message,
        2,
    )
    assert Engine(ctx, build_steps(ctx.config), workers=1).up().ok
    assert fault.failed == 2
    assert sleeps[:2] == [0.25, 0.375]


def test_propagation_retry_gives_up_after_about_two_minutes(ctx: Context, sleeps: Sleeps) -> None:
    FailCalls(
        ctx.client("lambda"),
        "CreateFunction",
        "InvalidParameterValueException",
        NOT_YET_ASSUMABLE,
        1000,
    )
    report = Engine(ctx, build_steps(ctx.config), workers=1).up()  # one budget at a time
    failed = next(r for r in report.results if r.outcome is Outcome.FAILED)
    assert failed.step == "writer"
    assert isinstance(report.error, StepError)
    assert report.error.operation == "CreateFunction"
    assert 120 <= sum(sleeps) <= 180


def test_a_permanent_error_is_not_retried_and_names_step_operation_and_code(
    ctx: Context, sleeps: Sleeps
) -> None:
    FailCalls(ctx.client("lambda"), "CreateFunction", "AccessDeniedException", "not allowed", 1)
    report = Engine(ctx, build_steps(ctx.config), workers=1).up()
    assert isinstance(report.error, StepError)
    assert str(report.error).startswith(
        "writer: CreateFunction failed with AccessDeniedException: not allowed"
    )
    assert "credentials lack this permission" in (report.error.hint or "")
    assert sleeps == []


def test_queue_name_reuse_after_a_delete_is_waited_out(ctx: Context, sleeps: Sleeps) -> None:
    fault = FailCalls(
        ctx.client("sqs"),
        "CreateQueue",
        "AWS.SimpleQueueService.QueueDeletedRecently",
        "You must wait 60 seconds after deleting a queue before you can create another "
        "with the same name.",
        4,
    )
    assert Engine(ctx, build_steps(ctx.config), workers=1).up().ok
    assert fault.failed == 4
    assert sum(sleeps) >= 3.5


def test_update_in_progress_is_retried(deployed: Context, sleeps: Sleeps) -> None:
    times = 2
    lam = deployed.session.client("lambda")
    lam.update_function_configuration(FunctionName="POC-Lambda-1", Timeout=3)
    again = fresh(deployed)
    fault = FailCalls(
        again.client("lambda"),
        "UpdateFunctionConfiguration",
        "ResourceConflictException",
        "An update is in progress for resource",
        times,
    )
    assert Engine(again, build_steps(again.config), workers=1).up().ok
    assert fault.failed == times
    assert lam.get_function_configuration(FunctionName="POC-Lambda-1")["Timeout"] == 10


class Conflicting:
    """An API Gateway client that answers the first calls with ConflictException."""

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.calls = 0

    def put_method(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.conflicts:
            raise ClientError(
                {"Error": {"Code": "ConflictException", "Message": "concurrent modification"}},
                "PutMethod",
            )
        return {"ok": True}


def test_every_api_gateway_call_is_retried_on_conflict_with_capped_backoff(
    ctx: Context, sleeps: Sleeps
) -> None:
    client = RetryingClient(Conflicting(6), replace(API_GATEWAY_RETRY, limit=120.0), ctx)
    assert client.put_method(restApiId="a") == {"ok": True}
    assert sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    pauses = [s for s in ctx.calls.spans if s.kind == "pause"]
    assert len(pauses) == 6 and len({s.loop for s in pauses}) == 1  # one loop, for the benchmark


def test_api_gateway_retries_give_up_after_their_limit(ctx: Context, sleeps: Sleeps) -> None:
    client = RetryingClient(Conflicting(1000), replace(API_GATEWAY_RETRY, limit=5.0), ctx)
    with pytest.raises(ClientError):
        client.put_method(restApiId="a")
    assert sum(sleeps[:-1]) < 5.0 <= sum(sleeps)
