"""The whole stack: up, a no-op second up, down, two stacks side by side."""

from __future__ import annotations

import json

import pytest

from bench.critical import one_per_call, phase_chain
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.reporting import Outcome, RecordingReporter
from pocctl.core.session import new_session
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps, read_outputs
from pocctl.resources.api import ApiStep, invoke_url
from pocctl.resources.base import Step
from pocctl.resources.iam import RoleStep
from pocctl.resources.policies import as_list

from .conftest import MakeContext, fresh
from .inventory import everything, flatten, of_stack


def up(ctx: Context) -> list[Outcome]:
    report = Engine(ctx, build_steps(ctx.config)).up()
    assert report.ok, [(r.title, r.error) for r in report.results if r.error]
    return [r.outcome for r in report.results]


def down(ctx: Context) -> list[Outcome]:
    report = Engine(ctx, build_steps(ctx.config)).down()
    assert report.ok, [(r.title, r.error) for r in report.results if r.error]
    return [r.outcome for r in report.results]


def test_up_builds_the_lab_pipeline_with_its_names(make_ctx: MakeContext) -> None:
    ctx = make_ctx(email="ops@example.com")
    outcomes = up(ctx)
    assert set(outcomes) == {Outcome.CREATED}
    found = everything(ctx.session)
    assert found["tables"] == ["orders"]
    assert found["queues"] == ["POC-Queue", "POC-Queue-DLQ", "POC-Stream-Failures"]
    assert found["topics"] == ["POC-Alarms", "POC-Topic"]
    # The address gets order notifications and, by default, alarm mails.
    assert found["subscriptions"] == ["ops@example.com", "ops@example.com"]
    assert found["functions"] == ["POC-Lambda-1", "POC-Lambda-2"]
    assert found["apis"] == ["POC-API"]
    assert found["log_groups"] == ["/aws/lambda/POC-Lambda-1", "/aws/lambda/POC-Lambda-2"]
    assert found["roles"] == ["POC-APIGateway-SQS-Role", "POC-Lambda-1-Role", "POC-Lambda-2-Role"]
    assert len(found["mappings"]) == 2


def test_resources_are_configured_as_the_lab_should_have_been(deployed: Context) -> None:
    s = deployed.session
    table = s.client("dynamodb").describe_table(TableName="orders")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "orderID", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}

    sqs = s.client("sqs")
    url = sqs.get_queue_url(QueueName="POC-Queue")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    fn = s.client("lambda").get_function_configuration(FunctionName="POC-Lambda-1")
    assert int(attrs["VisibilityTimeout"]) >= 6 * fn["Timeout"]
    assert attrs["SqsManagedSseEnabled"] == "true"
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":POC-Queue-DLQ")
    assert int(redrive["maxReceiveCount"]) >= 5

    assert fn["Runtime"] == "python3.13"
    assert fn["Environment"]["Variables"] == {"TABLE_NAME": "orders"}
    fn2 = s.client("lambda").get_function_configuration(FunctionName="POC-Lambda-2")
    assert fn2["Environment"]["Variables"] == {
        "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:POC-Topic"
    }
    group = s.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/POC-Lambda-1")
    assert group["logGroups"][0]["retentionInDays"] == 14


def test_mappings_are_configured_for_partial_failures_and_bounded_retries(
    deployed: Context,
) -> None:
    lam = deployed.session.client("lambda")
    (queue_map,) = lam.list_event_source_mappings(FunctionName="POC-Lambda-1")[
        "EventSourceMappings"
    ]
    assert queue_map["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue_map["ScalingConfig"]["MaximumConcurrency"] >= 2
    (stream_map,) = lam.list_event_source_mappings(FunctionName="POC-Lambda-2")[
        "EventSourceMappings"
    ]
    assert ":table/orders/stream/" in stream_map["EventSourceArn"]
    assert 0 <= stream_map["MaximumRetryAttempts"] <= 10
    assert stream_map["BisectBatchOnFunctionError"] is True
    assert stream_map["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        ":POC-Stream-Failures"
    )
    (pattern,) = stream_map["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"]) == {"eventName": ["INSERT"]}


def calls_in_a_row(steps: list[Step], ctx: Context, phase: str) -> int:
    """How many calls of one phase had to follow each other (the critical path in calls)."""
    return round(phase_chain(steps, ctx.calls.spans, phase, one_per_call).seconds)


def test_second_up_changes_nothing_and_makes_no_mutating_call(deployed: Context) -> None:
    again = fresh(deployed, email=None)
    outcomes = up(again)
    assert set(outcomes) == {Outcome.UNCHANGED}
    assert again.calls.calls, "the second run must have looked"
    assert again.calls.mutating == []
    # Every resource is read at once: find it, look inside; the stream mapping reads the
    # table's plan first (the stream ARN); a queue is then confirmed by CreateQueue, and its
    # tags read again (a queue that CreateQueue made as a deleted one's minute ended is not
    # the stack's, and is deleted again).
    steps = build_steps(again.config)
    assert calls_in_a_row(steps, again, "plan") <= 4
    assert calls_in_a_row(steps, again, "up") == 0


def test_a_cold_up_has_a_short_chain_of_calls(ctx: Context) -> None:
    up(ctx)
    steps = build_steps(ctx.config)
    chain = sum(calls_in_a_row(steps, ctx, phase) for phase in ("plan", "up"))
    # Over 50 calls, but on AWS the wall time follows the longest run of calls that wait for
    # each other. The API's pieces go one change at a time (API Gateway refuses overlapping
    # changes), so its 16 writes are most of this chain.
    assert len(ctx.calls.calls) > 50 and chain <= 22


def test_second_up_with_the_same_email_keeps_exactly_one_subscription(
    make_ctx: MakeContext,
) -> None:
    ctx = make_ctx(email="ops@example.com")
    up(ctx)
    for _ in range(2):
        again = fresh(ctx, email="ops@example.com")
        up(again)
        assert again.calls.mutating == []
    assert everything(ctx.session)["subscriptions"] == ["ops@example.com", "ops@example.com"]


def test_dry_run_on_an_empty_account_lists_every_step_and_writes_nothing(ctx: Context) -> None:
    report = Engine(ctx, build_steps(ctx.config)).up(dry_run=True)
    assert report.ok
    assert {r.outcome for r in report.results} == {Outcome.WOULD_CREATE, Outcome.UNCHANGED}
    # 16 for the pipeline, 7 for its alarms (the topic and six alarms; no email: no subscription)
    assert sum(r.outcome is Outcome.WOULD_CREATE for r in report.results) == 23
    assert ctx.calls.mutating == []
    assert flatten(everything(ctx.session)) == []


def test_down_removes_everything_and_a_second_down_finds_nothing(deployed: Context) -> None:
    outcomes = down(fresh(deployed))
    assert Outcome.DELETED in outcomes
    assert flatten(everything(deployed.session)) == []
    second = fresh(deployed)
    assert set(down(second)) == {Outcome.ABSENT}
    assert second.calls.mutating == []


def test_two_stacks_side_by_side_and_down_removes_only_its_own(make_ctx: MakeContext) -> None:
    poc = make_ctx(email="ops@example.com")
    up(poc)
    before = everything(poc.session)
    dev = make_ctx("dev")
    up(dev)
    both = everything(poc.session)
    assert "dev-orders" in both["tables"] and "orders" in both["tables"]
    assert "dev-API" in both["apis"]
    assert {"dev-Lambda-1", "dev-Lambda-2"} <= set(both["functions"])
    assert "/aws/lambda/dev-Lambda-1" in both["log_groups"]
    down(fresh(dev))
    assert everything(poc.session) == before
    assert flatten(of_stack(everything(poc.session), "dev", "dev-orders")) == []


def test_outputs_name_the_endpoint_and_resources(deployed: Context) -> None:
    values = read_outputs(fresh(deployed))
    api_id = values["api_id"]
    assert values["order_url"] == (
        f"https://{api_id}.execute-api.us-east-1.amazonaws.com/prod/order"
    )
    assert values["table"] == "orders"
    assert values["queue_url"].endswith("/POC-Queue")
    assert values["topic_arn"] == "arn:aws:sns:us-east-1:123456789012:POC-Topic"
    assert values["functions"] == ["POC-Lambda-1", "POC-Lambda-2"]


def test_a_local_endpoint_gets_a_local_invoke_url(make_ctx: MakeContext) -> None:
    local = make_ctx(endpoint_url="http://127.0.0.1:4566")
    assert invoke_url(local, "abc123") == (
        "http://127.0.0.1:4566/restapis/abc123/prod/_user_request_/order"
    )


def test_up_says_when_the_email_subscription_awaits_confirmation(make_ctx: MakeContext) -> None:
    """moto confirms email subscriptions at once; AWS leaves them pending: answer as AWS does."""
    from botocore.awsrequest import AWSResponse

    ctx = make_ctx(email="ops@example.com")

    def pending(**_: object) -> tuple[AWSResponse, dict[str, object]]:
        response = AWSResponse("https://sns.invalid", 200, {}, None)
        return response, {"Attributes": {"PendingConfirmation": "true"}}

    ctx.client("sns").meta.events.register("before-call.sns.GetSubscriptionAttributes", pending)
    up(ctx)
    # The two topics' steps run side by side: their notes come in either order.
    notes = ctx.reporter.notes  # type: ignore[attr-defined]
    assert len(notes) == 2, notes
    (alarms_note,) = [n for n in notes if "to receive alarm mails" in n]
    (note,) = [n for n in notes if n is not alarms_note]
    assert note.startswith("ops@example.com is pending confirmation: open the email from AWS")
    assert "to receive alarm mails" in alarms_note


@pytest.mark.parametrize(
    ("region", "partition", "domain"),
    [
        ("us-east-1", "aws", "amazonaws.com"),
        ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
    ],
)
def test_arns_and_urls_follow_the_regions_partition(
    aws: None, region: str, partition: str, domain: str
) -> None:
    ctx = Context(
        Config(region=region), RecordingReporter(), session=new_session(region_name=region)
    )
    api = next(s for s in build_steps(ctx.config) if isinstance(s, ApiStep))
    integration = api.desired_integration(ctx)
    assert integration["uri"].startswith(f"arn:{partition}:apigateway:{region}:sqs:path/")
    assert integration["credentials"].startswith(f"arn:{partition}:iam::")
    assert invoke_url(ctx, "a1") == f"https://a1.execute-api.{region}.{domain}/prod/order"
    for role in (s for s in build_steps(ctx.config) if isinstance(s, RoleStep)):
        for statement in role.desired_policy(ctx)["Statement"]:
            for resource in as_list(statement["Resource"]):
                assert resource == "*" or resource.startswith(f"arn:{partition}:")


def test_down_keeps_only_the_order_aws_needs(ctx: Context) -> None:
    up(ctx)
    down = fresh(ctx)
    steps = build_steps(down.config)
    assert Engine(down, steps).down().ok
    calls = [c for c in down.calls.calls if c.phase == "down"]
    # Everything is looked at at once, and roles, queues, table, API and topic go at once: the
    # chain is a look, then a mapping's deletion, its function's, its log group's (12 calls
    # when everything waited for its dependents, 9 when looks waited too).
    assert calls_in_a_row(steps, down, "down") <= 5
    order = [(c.step, c.operation) for c in calls if c.mutating]
    for mapping, function in (("queue-mapping", "writer"), ("stream-mapping", "notifier")):
        assert order.index((mapping, "DeleteEventSourceMapping")) < order.index(
            (function, "DeleteFunction")
        )
