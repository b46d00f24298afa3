"""`pocctl status`: the pipeline's health, exit codes that scripts can trust, drift named."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import CliRunner

from pocctl.core.session import new_session

from .cli_runs import run, up_ok


@pytest.fixture
def session(aws: None) -> Any:
    return new_session(region_name="us-east-1")


def test_status_of_a_stack_that_is_not_deployed(runner: CliRunner, session: Any) -> None:
    result = run(runner, "status")
    assert result.exit_code == 1
    assert "Error: Stack POC is not deployed in us-east-1: none of its resources exist." in (
        result.output
    )
    assert "Run `pocctl up`, or check --stack and --region" in result.output


def test_a_healthy_stack_is_drawn_as_the_pipeline_and_exits_0(
    runner: CliRunner, session: Any
) -> None:
    up_ok(runner, "--email", "ops@example.com")
    result = run(runner, "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Stack POC in us-east-1: healthy"
    order = [
        "REST API POC-API (public, 10 requests/s, burst 20)",
        "SQS queue POC-Queue: 0 waiting, 0 in flight",
        "SQS queue POC-Queue-DLQ (dead letters): 0 waiting, 0 in flight",
        "event source mapping POC-Queue -> POC-Lambda-1: Enabled",
        "Lambda function POC-Lambda-1: code from built-in handlers @ ",
        "DynamoDB table orders",
        "event source mapping orders stream -> POC-Lambda-2: Enabled",
        "Lambda function POC-Lambda-2",
        "SNS topic POC-Topic",
        "email ops@example.com: confirmed",
    ]
    positions = [next(i for i, line in enumerate(lines) if f"✓ {text}" in line) for text in order]
    assert positions == sorted(positions), "drawn in the order an order travels"
    # Each hop sits deeper than the one before it, as a tree.
    depth = [len(lines[i]) - len(lines[i].lstrip(" │├└─")) for i in positions]
    assert depth[0] < depth[1] < depth[4] < depth[5] < depth[7] < depth[8] < depth[9]
    assert "Order endpoint: POST https://" in result.output
    assert result.output.rstrip().endswith("Stack POC is healthy.")


def test_drift_a_disabled_mapping_and_dead_letters_are_named_and_exit_1(
    runner: CliRunner, session: Any
) -> None:
    up_ok(runner)
    lam, sqs = session.client("lambda"), session.client("sqs")
    lam.update_function_configuration(FunctionName="POC-Lambda-2", Timeout=3)
    mapping = lam.list_event_source_mappings(FunctionName="POC-Lambda-1")["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping[0]["UUID"], Enabled=False)
    dlq = sqs.get_queue_url(QueueName="POC-Queue-DLQ")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"item": "poison"}')

    result = run(runner, "status")
    assert result.exit_code == 1
    assert re.search(
        r"~ Lambda function POC-Lambda-2: code from built-in handlers @ \w+ \[drifted\]",
        result.output,
    )
    assert "Timeout: 3 -> 10" in result.output
    assert "Error: Stack POC is not healthy:" in result.output
    assert (
        "  - event source mapping POC-Queue -> POC-Lambda-1 is Disabled: nothing flows through it"
    ) in result.output
    assert "  - 1 order(s) in the dead-letter queue POC-Queue-DLQ" in result.output
    assert "Run `pocctl up` to repair what is missing or drifted." in result.output

    document = json.loads(run(runner, "status", "--json").stdout)
    assert document["ok"] is False and document["healthy"] is False
    assert document["resources"]["notifier"]["state"] == "drifted"
    assert document["resources"]["queue-mapping"]["states"] == ["Disabled"]
    assert document["resources"]["dlq"]["waiting"] == 1
    assert document["resources"]["dlq"]["in_flight"] == 0

    up_ok(runner)
    sqs.purge_queue(QueueUrl=dlq)
    assert run(runner, "status").exit_code == 0


def test_status_json_is_one_complete_document(
    runner: CliRunner, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    up_ok(runner, "--email", "ops@example.com")
    monkeypatch.setenv("POCCTL_EMAIL", "ops@example.com")  # then the subscription is checked too
    result = run(runner, "status", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["healthy"] is True
    assert document["problems"] == [] and document["warnings"] == []
    assert len(document["resources"]) == 25  # 17, and the alarm topic, its subscription, 6 alarms
    assert {r["state"] for r in document["resources"].values()} == {"present"}
    resources = document["resources"]
    assert resources["subscription"]["subscriptions"] == {"ops@example.com": "confirmed"}
    assert document["order_url"].endswith("/prod/order")
    assert resources["api"]["throttle"] == {"rate_limit": 10.0, "burst_limit": 20}
    for queue in ("queue", "dlq", "failure-queue"):
        assert resources[queue]["waiting"] == 0 and resources[queue]["in_flight"] == 0
    assert "Stack POC in us-east-1: healthy" in result.stderr


def test_without_email_status_draws_the_subscriptions_there_and_nothing_that_denies_them(
    runner: CliRunner, session: Any
) -> None:
    """An `up` without --email keeps the subscription an earlier --email made: status drew
    "email subscription of POC-Topic (none requested; add one with --email)" right above
    "email ops@example.com: confirmed"."""
    up_ok(runner, "--email", "ops@example.com")
    up_ok(runner)
    result = run(runner, "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    (title,) = [i for i, line in enumerate(lines) if "email subscription of POC-Topic" in line]
    assert lines[title].endswith("✓ email subscription of POC-Topic")
    assert lines[title + 1].endswith("✓ email ops@example.com: confirmed")
    assert "none" not in result.output and "add one" not in result.output


def test_without_any_subscription_status_says_there_is_none_and_how_to_add_one(
    runner: CliRunner, session: Any
) -> None:
    up_ok(runner)
    result = run(runner, "status")
    assert result.exit_code == 0, result.output
    drawn = [line for line in result.output.splitlines() if "email subscription of" in line]
    assert [line.lstrip(" │├└─") for line in drawn] == [
        "! email subscription of POC-Topic: none",
        "! email subscription of POC-Alarms: none",
    ]
    assert (
        "warning: no email subscription: add one with `pocctl up --email ADDRESS`" in result.output
    )
    assert "`pocctl up --alarm-email ADDRESS`" in result.output


def test_a_look_alike_holding_a_name_of_the_stack_is_named_with_what_to_do(
    runner: CliRunner, session: Any
) -> None:
    """Someone else's topic of the stack's topic name, made after ours was removed by hand."""
    up_ok(runner)
    sns = session.client("sns")
    sns.delete_topic(TopicArn="arn:aws:sns:us-east-1:123456789012:POC-Topic")
    sns.create_topic(Name="POC-Topic")  # untagged: not this stack's
    result = run(runner, "status")
    assert result.exit_code == 1, result.output
    assert "x SNS topic POC-Topic [not ours]" in result.output
    assert "  - SNS topic POC-Topic exists but is not this stack's (no pocctl tag)" in (
        result.output
    )
    assert "A resource without the pocctl tag holds one of the stack's names: remove it" in (
        result.output
    )
    document = json.loads(run(runner, "status", "--json").stdout)
    assert document["resources"]["topic"]["state"] == "not ours"
    assert [r for r, found in document["resources"].items() if found["state"] != "present"] == [
        "topic"
    ]
