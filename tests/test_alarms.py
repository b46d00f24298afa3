"""`up` makes CloudWatch alarms that mail the stack's alarm topic; status, down and the sweep know
them; settings shape them and turn them off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pocctl.core.config import TAG_KEY
from pocctl.core.session import new_session
from pocctl.ops.sweep import sweep
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources.alarms import COMPARED

from .cli_runs import run, up_ok
from .conftest import MakeContext, fresh
from .inventory import everything

ACCOUNT = "123456789012"
ALARM_TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:POC-Alarms"
ALARMS = [
    "POC-Alarm-API-5XX",
    "POC-Alarm-Dead-Letters",
    "POC-Alarm-Lambda-1-Errors",
    "POC-Alarm-Lambda-2-Errors",
    "POC-Alarm-Stream-Failures",
    "POC-Alarm-Stream-Iterator-Age",
]
QUEUE_DEPTH_ALARMS = {"POC-Alarm-Dead-Letters", "POC-Alarm-Stream-Failures"}

ALARM = {
    "AlarmName": "strict-Alarm",
    "Namespace": "AWS/SQS",
    "MetricName": "ApproximateNumberOfMessagesVisible",
    "Statistic": "Maximum",
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "Threshold": 1.0,
    "Period": 60,
    "EvaluationPeriods": 1,
}


@pytest.fixture
def session(aws: None) -> Any:
    return new_session(region_name="us-east-1")


def alarms(session: Any) -> dict[str, dict[str, Any]]:
    found = session.client("cloudwatch").describe_alarms()["MetricAlarms"]
    return {alarm["AlarmName"]: alarm for alarm in found}


def watched(alarm: dict[str, Any]) -> tuple[str, str, dict[str, str], str, str, float]:
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    return (
        alarm["Namespace"],
        alarm["MetricName"],
        dimensions,
        alarm["Statistic"],
        alarm["ComparisonOperator"],
        float(alarm["Threshold"]),
    )


def test_up_makes_an_alarm_for_each_way_an_order_can_get_stuck(
    runner: CliRunner, session: Any
) -> None:
    up_ok(runner, "--email", "ops@example.com")
    found = alarms(session)
    assert sorted(found) == ALARMS
    at_least = "GreaterThanOrEqualToThreshold"
    assert watched(found["POC-Alarm-Dead-Letters"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": "POC-Queue-DLQ"},
        "Maximum",
        at_least,
        1.0,
    )
    assert watched(found["POC-Alarm-Stream-Failures"])[2] == {"QueueName": "POC-Stream-Failures"}
    assert watched(found["POC-Alarm-Lambda-1-Errors"]) == (
        "AWS/Lambda",
        "Errors",
        {"FunctionName": "POC-Lambda-1"},
        "Sum",
        at_least,
        1.0,
    )
    assert watched(found["POC-Alarm-Lambda-2-Errors"])[2] == {"FunctionName": "POC-Lambda-2"}
    assert watched(found["POC-Alarm-Stream-Iterator-Age"]) == (
        "AWS/Lambda",
        "IteratorAge",
        {"FunctionName": "POC-Lambda-2"},
        "Maximum",
        "GreaterThanThreshold",
        30_000.0,
    )
    assert watched(found["POC-Alarm-API-5XX"]) == (
        "AWS/ApiGateway",
        "5XXError",
        {"ApiName": "POC-API", "Stage": "prod"},
        "Average",
        "GreaterThanThreshold",
        0.05,
    )
    cloudwatch = session.client("cloudwatch")
    for alarm in found.values():
        # ALARM and OK both mail the alarm topic: fixing the cause sends an OK mail.
        assert alarm["AlarmActions"] == [ALARM_TOPIC] and alarm["OKActions"] == [ALARM_TOPIC]
        assert alarm["ActionsEnabled"] is True
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
            60,
            1,
            1,
        )
        # A queue's depth keeps its state when SQS stops publishing for an idle queue.
        kept = "ignore" if alarm["AlarmName"] in QUEUE_DEPTH_ALARMS else "notBreaching"
        assert alarm["TreatMissingData"] == kept
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        assert {"Key": TAG_KEY, "Value": "POC"} in tags
    sns = session.client("sns")
    policy = json.loads(sns.get_topic_attributes(TopicArn=ALARM_TOPIC)["Attributes"]["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == "sns:Publish" and statement["Resource"] == ALARM_TOPIC
    assert statement["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:POC-Alarm-*"
    }
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    # --alarm-email defaults to --email.
    subscribed = sns.list_subscriptions_by_topic(TopicArn=ALARM_TOPIC)["Subscriptions"]
    assert [s["Endpoint"] for s in subscribed] == ["ops@example.com"]


def test_a_second_up_writes_nothing(make_ctx: MakeContext) -> None:
    ctx = make_ctx(email="ops@example.com")
    assert Engine(ctx, build_steps(ctx.config)).up().ok
    again = fresh(ctx, email="ops@example.com")
    assert Engine(again, build_steps(again.config)).up().ok
    assert again.calls.mutating == []


def alarm_subscribers(session: Any) -> list[str]:
    sns = session.client("sns")
    subscribed = sns.list_subscriptions_by_topic(TopicArn=ALARM_TOPIC)["Subscriptions"]
    return [s["Endpoint"] for s in subscribed]


def test_alarm_email_sends_alarms_elsewhere(runner: CliRunner, session: Any) -> None:
    up_ok(runner, "--email", "ops@example.com", "--alarm-email", "oncall@example.com")
    assert alarm_subscribers(session) == ["oncall@example.com"]


def test_a_later_up_with_another_email_keeps_the_alarm_mail_where_it_was_sent(
    runner: CliRunner, session: Any
) -> None:
    up_ok(runner, "--email", "ops@example.com", "--alarm-email", "oncall@example.com")
    up_ok(runner, "--email", "orders@example.com")
    assert alarm_subscribers(session) == ["oncall@example.com"]
    up_ok(runner, "--alarm-email", "night@example.com")
    assert alarm_subscribers(session) == ["night@example.com"]


def test_alarm_email_with_no_alarms_is_a_usage_error(runner: CliRunner, session: Any) -> None:
    result = run(runner, "up", "--alarm-email", "oncall@example.com", "--no-alarms")
    assert result.exit_code == 2, result.output
    assert "--alarm-email" in result.output and "--no-alarms" in result.output
    assert "Traceback" not in result.output
    assert alarms(session) == {}


def test_the_function_error_alarms_say_they_catch_crashes_and_point_to_the_failure_queues(
    runner: CliRunner, session: Any
) -> None:
    """The handlers answer batchItemFailures for a failing order, so Errors counts only an
    invocation that failed as a whole (Lambda Developer Guide, "Types of metrics")."""
    up_ok(runner)
    found = alarms(session)
    writer = found["POC-Alarm-Lambda-1-Errors"]["AlarmDescription"]
    notifier = found["POC-Alarm-Lambda-2-Errors"]["AlarmDescription"]
    assert "POC-Lambda-1 (stores orders) crashed or timed out" in writer
    assert "POC-Alarm-Dead-Letters" in writer
    assert "POC-Lambda-2 (announces orders) crashed or timed out" in notifier
    assert "POC-Alarm-Stream-Failures" in notifier
    status = run(runner, "status")
    assert "alarms when POC-Lambda-1 (stores orders) crashed or timed out" in status.output


def test_without_an_address_the_alarm_topic_has_no_subscription_and_status_says_how_to_add_one(
    runner: CliRunner, session: Any
) -> None:
    up_ok(runner)
    assert sorted(alarms(session)) == ALARMS
    result = run(runner, "status")
    assert result.exit_code == 0, result.output
    assert "email subscription of POC-Alarms: none" in result.output
    assert "alarms notify nobody; add one with `pocctl up --alarm-email ADDRESS`" in result.output


def test_drift_of_an_alarm_is_shown_and_up_repairs_it(runner: CliRunner, session: Any) -> None:
    up_ok(runner)
    cloudwatch = session.client("cloudwatch")
    alarm = alarms(session)["POC-Alarm-Dead-Letters"]
    # By hand: a higher threshold, and no OK action any more.
    cloudwatch.put_metric_alarm(
        AlarmName=alarm["AlarmName"],
        AlarmDescription=alarm["AlarmDescription"],
        Namespace=alarm["Namespace"],
        MetricName=alarm["MetricName"],
        Dimensions=alarm["Dimensions"],
        Statistic=alarm["Statistic"],
        ComparisonOperator=alarm["ComparisonOperator"],
        Threshold=50.0,
        Period=alarm["Period"],
        EvaluationPeriods=alarm["EvaluationPeriods"],
        TreatMissingData=alarm["TreatMissingData"],
        AlarmActions=alarm["AlarmActions"],
    )
    status = run(runner, "status", "--json")
    assert status.exit_code == 1
    resource = json.loads(status.stdout)["resources"]["dead-letters-alarm"]
    assert resource["state"] == "drifted"
    assert "Threshold: 50.0 -> 1.0" in resource["changes"]
    assert f"OKActions: [] -> ['{ALARM_TOPIC}']" in resource["changes"]
    up_ok(runner)
    repaired = alarms(session)["POC-Alarm-Dead-Letters"]
    assert float(repaired["Threshold"]) == 1.0 and repaired["OKActions"] == [ALARM_TOPIC]
    assert run(runner, "status").exit_code == 0


def test_a_console_change_to_1_of_3_datapoints_is_drift_and_up_repairs_it(
    runner: CliRunner, session: Any, tmp_path: Path
) -> None:
    (tmp_path / "pocctl.toml").write_text("alarm_evaluation_periods = 3\n")
    up_ok(runner)
    alarm = alarms(session)["POC-Alarm-Lambda-1-Errors"]
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 3)
    kept = {key: alarm[key] for key in ("AlarmName", *COMPARED) if key in alarm}
    # The console's "Datapoints to alarm: 1 out of 3", everything else as it was.
    session.client("cloudwatch").put_metric_alarm(**{**kept, "DatapointsToAlarm": 1})
    status = run(runner, "status", "--json")
    assert status.exit_code == 1, status.output
    resource = json.loads(status.stdout)["resources"]["writer-errors-alarm"]
    assert resource["state"] == "drifted"
    assert "DatapointsToAlarm: 1 -> 3" in resource["changes"]
    up_ok(runner)
    assert alarms(session)["POC-Alarm-Lambda-1-Errors"]["DatapointsToAlarm"] == 3
    assert run(runner, "status").exit_code == 0


def test_a_topic_policy_that_no_longer_lets_cloudwatch_publish_is_drift(
    runner: CliRunner, session: Any
) -> None:
    up_ok(runner)
    sns = session.client("sns")
    sns.set_topic_attributes(
        TopicArn=ALARM_TOPIC,
        AttributeName="Policy",
        AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    status = run(runner, "status", "--json")
    assert status.exit_code == 1
    assert json.loads(status.stdout)["resources"]["alarm-topic"]["state"] == "drifted"
    up_ok(runner)
    policy = json.loads(sns.get_topic_attributes(TopicArn=ALARM_TOPIC)["Attributes"]["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}


def test_no_alarms_removes_the_alarms_and_their_topic(runner: CliRunner, session: Any) -> None:
    up_ok(runner, "--email", "ops@example.com")
    assert sorted(alarms(session)) == ALARMS
    result = up_ok(runner, "--email", "ops@example.com", "--no-alarms")
    assert alarms(session) == {}
    assert everything(session)["topics"] == ["POC-Topic"]
    assert "alarms are off" in result.output
    # The stack's record says its alarms are off: the next commands see it so.
    status = run(runner, "status", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["problems"] == []
    up_ok(runner)
    assert alarms(session) == {}
    up_ok(runner, "--alarms")
    assert sorted(alarms(session)) == ALARMS


def test_status_shows_each_alarms_state_and_reason(runner: CliRunner, session: Any) -> None:
    up_ok(runner)
    session.client("cloudwatch").set_alarm_state(
        AlarmName="POC-Alarm-Dead-Letters",
        StateValue="ALARM",
        StateReason="Threshold Crossed: 1 datapoint [3.0] was >= the threshold (1.0).",
    )
    result = run(runner, "status")
    assert "CloudWatch alarm POC-Alarm-Dead-Letters: ALARM" in result.output
    assert "Threshold Crossed: 1 datapoint [3.0] was >= the threshold (1.0)." in result.output
    document = json.loads(run(runner, "status", "--json").stdout)
    resource = document["resources"]["dead-letters-alarm"]
    assert resource["alarm_state"] == "ALARM"
    assert resource["alarm_reason"].startswith("Threshold Crossed")
    others = [r for k, r in document["resources"].items() if k.endswith("-alarm")]
    assert {r["alarm_state"] in ("OK", "ALARM", "INSUFFICIENT_DATA") for r in others} == {True}
    assert len(others) == 6


def test_down_removes_the_alarms_and_the_sweep_finds_one_left(
    runner: CliRunner, session: Any, make_ctx: MakeContext
) -> None:
    up_ok(runner)
    # One more alarm tagged as the stack's, which no step knows: the sweep finds it.
    session.client("cloudwatch").put_metric_alarm(
        AlarmName="POC-Alarm-By-Hand",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Statistic="Maximum",
        ComparisonOperator="GreaterThanThreshold",
        Threshold=0.0,
        Period=60,
        EvaluationPeriods=1,
        Tags=[{"Key": TAG_KEY, "Value": "POC"}],
    )
    down = run(runner, "down", "--yes")
    assert sorted(alarms(session)) == ["POC-Alarm-By-Hand"]
    assert "aws cloudwatch delete-alarms --alarm-names POC-Alarm-By-Hand" in down.output
    ctx = make_ctx()
    (left,) = sweep(ctx, build_steps(ctx.config)).left
    assert (left.kind, left.name) == ("CloudWatch alarm", "POC-Alarm-By-Hand")
    session.client("cloudwatch").delete_alarms(AlarmNames=["POC-Alarm-By-Hand"])
    assert sweep(ctx, build_steps(ctx.config)).left == []


def assert_alarm_settings(session: Any) -> None:
    found = alarms(session)
    assert {(a["Period"], a["EvaluationPeriods"]) for a in found.values()} == {(300, 3)}
    treated = {name: a["TreatMissingData"] for name, a in found.items()}
    # The queue-depth alarms keep their state whatever the setting (resources/alarms.py).
    assert treated == {n: "ignore" if n in QUEUE_DEPTH_ALARMS else "breaching" for n in ALARMS}
    threshold = {name: float(a["Threshold"]) for name, a in found.items()}
    assert threshold == {
        "POC-Alarm-API-5XX": 0.005,
        "POC-Alarm-Dead-Letters": 4.0,
        "POC-Alarm-Lambda-1-Errors": 2.0,
        "POC-Alarm-Lambda-2-Errors": 2.0,
        "POC-Alarm-Stream-Failures": 4.0,
        "POC-Alarm-Stream-Iterator-Age": 120_000.0,
    }
    description = found["POC-Alarm-API-5XX"]["AlarmDescription"]
    assert "more than 0.5% of requests" in description
    assert alarm_subscribers(session) == ["oncall@example.com"]


def test_alarm_settings_come_from_pocctl_toml(
    runner: CliRunner, session: Any, tmp_path: Path
) -> None:
    (tmp_path / "pocctl.toml").write_text(
        "alarm_period = 300\nalarm_evaluation_periods = 3\n"
        'alarm_missing_data = "breaching"\nalarm_iterator_age = 120\n'
        "alarm_dead_letters = 4\nalarm_function_errors = 2\nalarm_api_5xx_rate = 0.005\n"
        'alarm_email = "oncall@example.com"\n'
    )
    up_ok(runner)
    assert_alarm_settings(session)


def test_alarm_settings_come_from_the_environment(runner: CliRunner, session: Any) -> None:
    env = {
        "POCCTL_ALARM_PERIOD": "300",
        "POCCTL_ALARM_EVALUATION_PERIODS": "3",
        "POCCTL_ALARM_MISSING_DATA": "breaching",
        "POCCTL_ALARM_ITERATOR_AGE": "120",
        "POCCTL_ALARM_DEAD_LETTERS": "4",
        "POCCTL_ALARM_FUNCTION_ERRORS": "2",
        "POCCTL_ALARM_API_5XX_RATE": "0.005",
        "POCCTL_ALARM_EMAIL": "oncall@example.com",
    }
    result = run(runner, "up", env=env)
    assert result.exit_code == 0, result.output
    assert_alarm_settings(session)


def test_alarms_false_in_pocctl_toml_makes_none(
    runner: CliRunner, session: Any, tmp_path: Path
) -> None:
    (tmp_path / "pocctl.toml").write_text("alarms = false\n")
    up_ok(runner, "--email", "ops@example.com")
    assert alarms(session) == {}
    assert everything(session)["topics"] == ["POC-Topic"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("alarm_iterator_age = -5", "alarm_iterator_age must be between 1 and 604800, got -5"),
        ("alarm_api_5xx_rate = 2.0", "alarm_api_5xx_rate must be at least 0 and below 1"),
        # An Average of 5XXError never exceeds 1: such an alarm could never fire.
        ("alarm_api_5xx_rate = 1", "below 1 (a share of requests), got 1.0"),
        ("alarm_period = 90", "alarm_period must be a multiple of 60 seconds"),
        ("alarm_period = 172800", "pocctl's limit, stricter than CloudWatch's 604,800 s"),
        ('alarm_missing_data = "never"', "alarm_missing_data must be one of notBreaching"),
        ("alarm_threshold = 1", "unknown key 'alarm_threshold'"),
        ('alarms = "yes"', "'alarms' must be true or false"),
        (
            "alarm_period = 3000\nalarm_evaluation_periods = 30",
            "over CloudWatch's limit of 86,400 s",
        ),
    ],
)
def test_a_bad_alarm_setting_is_a_clear_error(
    runner: CliRunner, session: Any, tmp_path: Path, toml: str, message: str
) -> None:
    (tmp_path / "pocctl.toml").write_text(toml + "\n")
    result = run(runner, "up")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert alarms(session) == {}


def test_a_bad_alarms_environment_variable_is_a_clear_error(
    runner: CliRunner, session: Any
) -> None:
    result = run(runner, "up", env={"POCCTL_ALARMS": "maybe"})
    assert result.exit_code == 2, result.output
    assert "POCCTL_ALARMS='maybe'" in result.output and "false" in result.output
