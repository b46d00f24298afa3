"""Least privilege: every statement scoped to exact ARNs, each role trusting only its service."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.local.policy import Request, evaluate, wildcard_only
from pocctl.pipeline.stack import boundary_policy, build_steps
from pocctl.resources.iam import RoleStep
from pocctl.resources.policies import as_list, render, statements

ARN_PREFIXES = ("arn:aws:sqs:", "arn:aws:dynamodb:", "arn:aws:sns:", "arn:aws:logs:")


def role_steps(config: Config) -> list[RoleStep]:
    return [s for s in build_steps(config) if isinstance(s, RoleStep)]


@pytest.mark.parametrize("stack", ["POC", "dev"])
def test_every_statement_is_scoped_to_this_stacks_arns(make_ctx, stack: str) -> None:  # type: ignore[no-untyped-def]
    ctx: Context = make_ctx(stack)
    for step in role_steps(ctx.config):
        for statement in statements(step.desired_policy(ctx)):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                assert "*" not in action, (step.role_name, action)
            if statement["Resource"] == "*":
                # Only where IAM offers no resource-level permission (ListStreams).
                assert all(wildcard_only(a) for a in as_list(statement["Action"])), statement
                continue
            for resource in as_list(statement["Resource"]):
                assert resource.startswith(ARN_PREFIXES), resource
                assert ":us-east-1:123456789012:" in resource
                assert resource.count("*") <= 1 and not resource.endswith(":*:*")
                name_part = resource.split(":", 5)[5]
                table = ctx.config.names.table
                assert stack in name_part or name_part.startswith(f"table/{table}"), resource


def test_the_writer_may_only_read_its_queue_write_its_table_and_its_logs(ctx: Context) -> None:
    writer = next(s for s in role_steps(ctx.config) if s.key == "writer-role")
    granted = {
        (action, resource)
        for st in statements(writer.desired_policy(ctx))
        for action in as_list(st["Action"])
        for resource in as_list(st["Resource"])
    }
    queue = "arn:aws:sqs:us-east-1:123456789012:POC-Queue"
    logs = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/POC-Lambda-1:*"
    assert granted == {
        ("sqs:ReceiveMessage", queue),
        ("sqs:DeleteMessage", queue),
        ("sqs:GetQueueAttributes", queue),
        ("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/orders"),
        ("logs:CreateLogStream", logs),
        ("logs:PutLogEvents", logs),
    }


def test_the_notifier_may_read_the_stream_mark_orders_publish_to_its_topic_and_dead_letter(
    ctx: Context,
) -> None:
    notifier = next(s for s in role_steps(ctx.config) if s.key == "notifier-role")
    resources = {
        r for st in statements(notifier.desired_policy(ctx)) for r in as_list(st["Resource"])
    }
    assert resources == {
        "*",  # dynamodb:ListStreams has no resource-level permission
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/*",
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders",  # GetItem, UpdateItem: notifiedAt
        "arn:aws:sns:us-east-1:123456789012:POC-Topic",
        "arn:aws:sqs:us-east-1:123456789012:POC-Stream-Failures",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/POC-Lambda-2:*",
    }


def test_each_role_trusts_only_its_own_service(ctx: Context) -> None:
    trusted = {}
    for step in role_steps(ctx.config):
        (statement,) = statements(render(step.trust_template, {}))
        trusted[step.key] = statement["Principal"]
        assert statement["Action"] == "sts:AssumeRole"
    assert trusted == {
        "writer-role": {"Service": "lambda.amazonaws.com"},
        "notifier-role": {"Service": "lambda.amazonaws.com"},
        "api-role": {"Service": "apigateway.amazonaws.com"},
    }


def test_the_api_role_may_only_send_to_the_order_queue(ctx: Context) -> None:
    api = next(s for s in role_steps(ctx.config) if s.key == "api-role")
    (statement,) = statements(api.desired_policy(ctx))
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert statement["Resource"] == "arn:aws:sqs:us-east-1:123456789012:POC-Queue"


def linted(policy: dict[str, Any]) -> list[Any]:
    """parliament's findings on a policy. Imported here, not at the top: loading its IAM
    reference costs 0.3 s, paid then only by the workers that run these tests."""
    from parliament import analyze_policy_string

    return list(analyze_policy_string(json.dumps(policy)).findings)


@pytest.mark.parametrize("stack", ["POC", "dev"])
def test_every_rendered_policy_passes_the_parliament_iam_linter(make_ctx, stack: str) -> None:  # type: ignore[no-untyped-def]
    ctx: Context = make_ctx(stack)
    for step in role_steps(ctx.config):
        # Identity policies only: parliament reads a trust policy (no Resource) as malformed.
        findings = linted(step.desired_policy(ctx))
        assert [(f.issue, f.detail) for f in findings] == [], step.role_name


def test_the_roles_boundary_allows_what_every_role_is_granted_and_nothing_else(
    ctx: Context,
) -> None:
    boundary = statements(boundary_policy(ctx))
    granted = set()
    for step in role_steps(ctx.config):
        for statement in statements(step.desired_policy(ctx)):
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    granted.add((action, resource))
                    assert evaluate(boundary, Request(action, (resource,))).allowed
    bounded = {
        (action, resource)
        for statement in boundary
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    assert bounded == granted
    findings = linted(boundary_policy(ctx))
    assert [(f.issue, f.detail) for f in findings] == []


def test_every_role_carries_the_stacks_boundary(ctx: Context) -> None:
    assert {step.boundary_arn(ctx) for step in role_steps(ctx.config)} == {
        "arn:aws:iam::123456789012:policy/POC-Roles-Boundary"
    }
