"""pocctl never takes over, changes or deletes a same-named resource it did not create."""

from __future__ import annotations

import json

import pytest

from pocctl.core.context import Context
from pocctl.core.reporting import Outcome
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps

from .conftest import fresh
from .inventory import everything


def look_alikes(ctx: Context) -> None:
    """What a learner who did the lab by hand has in the account: same names, no tags."""
    s = ctx.session
    s.client("sqs").create_queue(QueueName="POC-Queue", Attributes={"VisibilityTimeout": "30"})
    s.client("sns").create_topic(Name="POC-Topic")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    s.client("iam").create_role(
        RoleName="POC-Lambda-1-Role", AssumeRolePolicyDocument=json.dumps(trust)
    )
    s.client("apigateway").create_rest_api(name="POC-API", description="by hand")


def test_up_refuses_look_alikes_before_creating_anything(ctx: Context) -> None:
    look_alikes(ctx)
    before = everything(ctx.session)
    report = Engine(ctx, build_steps(ctx.config)).up()
    assert not report.ok
    assert sorted((c.kind, c.name) for c in report.conflicts) == [
        ("IAM role", "POC-Lambda-1-Role"),
        ("REST API", "POC-API"),
        ("SNS topic", "POC-Topic"),
        ("SQS queue", "POC-Queue"),
    ]
    assert report.results == []
    assert ctx.calls.mutating == []
    assert everything(ctx.session) == before


def test_conflict_message_names_the_resource_and_the_way_out(ctx: Context) -> None:
    look_alikes(ctx)
    (conflict, *_) = Engine(ctx, build_steps(ctx.config)).up().conflicts
    assert "was not created by pocctl stack 'POC'" in str(conflict)
    assert "--stack" in str(conflict)


def test_down_leaves_look_alikes_untouched(ctx: Context) -> None:
    look_alikes(ctx)
    before = everything(ctx.session)
    report = Engine(ctx, build_steps(ctx.config)).down()
    assert report.ok
    skipped = {r.title for r in report.results if r.outcome is Outcome.SKIPPED}
    assert {"SQS queue POC-Queue", "SNS topic POC-Topic", "REST API POC-API"} <= skipped
    assert "IAM role POC-Lambda-1-Role" in skipped
    assert everything(ctx.session) == before
    assert any("lacks the tag pocctl:stack=POC" in n for n in ctx.reporter.notes)  # type: ignore[attr-defined]


@pytest.mark.parametrize("other_stack", ["dev"])
def test_a_resource_of_another_stack_is_not_ours_either(make_ctx, other_stack: str) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx()
    ctx.session.client("sqs").create_queue(
        QueueName="POC-Queue", tags={"pocctl:stack": other_stack}
    )
    report = Engine(ctx, build_steps(ctx.config)).up()
    assert [c.name for c in report.conflicts] == ["POC-Queue"]


def test_down_deletes_a_gone_functions_mapping_only_if_it_carries_the_stacks_tag(
    ctx: Context,
) -> None:
    assert Engine(ctx, build_steps(ctx.config)).up().ok
    lam = ctx.client("lambda")
    mapping_of = {
        name: lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"][0]
        for name in ("POC-Lambda-1", "POC-Lambda-2")
    }
    # Someone else's now: the stack's tag taken off one mapping; both functions deleted by hand.
    lam.untag_resource(
        Resource=mapping_of["POC-Lambda-2"]["EventSourceMappingArn"], TagKeys=["pocctl:stack"]
    )
    for name in mapping_of:
        lam.delete_function(FunctionName=name)
    report = Engine(fresh(ctx), build_steps(ctx.config)).down()
    assert report.ok
    outcomes = {r.step: r.outcome for r in report.results}
    assert outcomes["queue-mapping"] is Outcome.DELETED
    assert outcomes["stream-mapping"] is Outcome.ABSENT
    left = [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]]
    assert left == [mapping_of["POC-Lambda-2"]["UUID"]]
