"""The stack's alarms in `pocctl local`: CloudWatch's alarm calls judged and validated as
CloudWatch does, and the state its evaluation comes to shown by `status` (apart from
test_alarms.py, whose in-process moto would wipe a running emulator's state)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pocctl.core.config import TAG_KEY
from pocctl.local.emulator import Emulator

from .emulated import local_context, up_local
from .test_alarm_journey import pocctl
from .test_alarms import ACCOUNT, ALARM
from .test_local_alarms import eventually


def test_pocctl_local_judges_each_alarm_call_on_its_alarm_and_tags_on_creation(
    emulator: Emulator,
) -> None:
    """IAM judges CloudWatch's alarm calls on the alarm's ARN, and tags given to a new alarm
    need cloudwatch:TagResource too (CloudWatch API reference, PutMetricAlarm, Tags)."""
    iam = local_context(emulator, "judged").client("iam")
    iam.create_user(UserName="alarmist")
    mine = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:judged-*"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "cloudwatch:PutMetricAlarm", "Resource": mine},
        ],
    }
    iam.put_user_policy(UserName="alarmist", PolicyName="alarms", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="alarmist")["AccessKey"]
    cloudwatch = boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )

    def put(name: str, **more: Any) -> str | None:
        try:
            cloudwatch.put_metric_alarm(**{**ALARM, "AlarmName": name}, **more)
        except ClientError as exc:
            return str(exc)
        return None

    emulator.settled()  # until IAM's change of the new user's policy reached CloudWatch
    assert put("judged-Alarm") is None
    tags = [{"Key": TAG_KEY, "Value": "judged"}]
    refused = put("judged-Tagged", Tags=tags)
    assert refused is not None and "cloudwatch:TagResource" in refused
    refused = put("someone-elses-Alarm")
    assert refused is not None and "cloudwatch:PutMetricAlarm" in refused
    assert "alarm:someone-elses-Alarm" in refused

    def refused_to(call: Any) -> str:
        with pytest.raises(ClientError) as caught:
            call()
        return str(caught.value)

    # Reads, deletes and tag listings are judged on the alarm too, and this user has none.
    arn = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:judged-Alarm"
    for action, call in (
        ("DescribeAlarms", lambda: cloudwatch.describe_alarms(AlarmNames=["judged-Alarm"])),
        ("DeleteAlarms", lambda: cloudwatch.delete_alarms(AlarmNames=["judged-Alarm"])),
        ("ListTagsForResource", lambda: cloudwatch.list_tags_for_resource(ResourceARN=arn)),
    ):
        refused = refused_to(call)
        assert f"cloudwatch:{action}" in refused, refused


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"Period": 90}, "Period must be 10, 20, 30 or a multiple of 60"),
        ({"Period": 45}, "Period must be 10, 20, 30 or a multiple of 60"),
        ({"Period": 60, "EvaluationPeriods": 1441}, "must not exceed 86400 seconds"),
        ({"Period": 3600, "EvaluationPeriods": 169}, "must not exceed 604800 seconds"),
        ({"TreatMissingData": "never"}, "TreatMissingData is not valid"),
        (
            {"EvaluationPeriods": 1, "DatapointsToAlarm": 3},
            "DatapointsToAlarm must be less than or equal to EvaluationPeriods",
        ),
    ],
)
def test_pocctl_local_refuses_an_alarm_cloudwatch_refuses(
    emulator: Emulator, changed: dict[str, Any], message: str
) -> None:
    cloudwatch = local_context(emulator, "strict").client("cloudwatch")
    with pytest.raises(ClientError) as refused:
        cloudwatch.put_metric_alarm(**{**ALARM, **changed})
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert message in refused.value.response["Error"]["Message"]
    assert cloudwatch.describe_alarms(AlarmNames=["strict-Alarm"])["MetricAlarms"] == []


def test_pocctl_local_takes_the_periods_cloudwatch_takes(emulator: Emulator) -> None:
    cloudwatch = local_context(emulator, "strict").client("cloudwatch")
    for period, evaluation in ((10, 6), (60, 1440), (3600, 168), (120, 3)):
        cloudwatch.put_metric_alarm(
            **{**ALARM, "Period": period, "EvaluationPeriods": evaluation},
            DatapointsToAlarm=evaluation,
            TreatMissingData="ignore",
        )
        (found,) = cloudwatch.describe_alarms(AlarmNames=["strict-Alarm"])["MetricAlarms"]
        assert (found["Period"], found["EvaluationPeriods"]) == (period, evaluation)


@pytest.mark.slow  # heavy (tests/cases.py)
def test_status_shows_the_state_cloudwatch_came_to_after_evaluating_an_alarm(
    emulator: Emulator,
) -> None:
    """No invocation publishes no Errors datapoint: the missing period is treated as not
    breaching, and the alarm is OK (pocctl local evaluates as CloudWatch does)."""
    ctx = up_local(emulator, "evaluated")
    alarm = ctx.config.names.writer_errors_alarm
    cloudwatch = emulator.cloudwatch
    made = cloudwatch.metrics.timeline.minute()
    every = cloudwatch.metrics.timeline.minutes("alarm_evaluation")
    evaluated = made + every  # the first evaluation that began after the alarm existed
    eventually(lambda: cloudwatch.closed >= evaluated, f"minute {evaluated} closed")
    status = pocctl(emulator, "evaluated", "status", "--json")
    resource = json.loads(status.stdout)["resources"]["writer-errors-alarm"]
    assert resource["alarm_state"] == "OK", (alarm, resource)
    assert resource["alarm_reason"] == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [NonBreaching]."
    )
