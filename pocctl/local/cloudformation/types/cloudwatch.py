"""AWS::CloudWatch::Alarm (CloudFormation Template Reference): one PutMetricAlarm.

Its properties are PutMetricAlarm's parameters by the same names. Tags: CloudFormation takes an
alarm's Tags since April 2024 (aws-cloudformation/cloudformation-coverage-roadmap#64, where the
stack-level tags that #1346 found missing from alarms were then tried on a new stack), so the
stack's tags reach it as they reach the other tagged types. Ref is the alarm's name; Fn::GetAtt
Arn its ARN.
"""

from __future__ import annotations

from typing import Any

from pocctl.local.cloudformation.providers import Made, Provider, Request, delete_quietly, only

PASSED_AS_GIVEN = (
    "AlarmDescription",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Unit",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)
INTEGERS = ("Period", "EvaluationPeriods", "DatapointsToAlarm")
NAME_LIMIT = 255  # PutMetricAlarm, AlarmName: "Maximum length of 255"


def boolean(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


class Alarm:
    stack_tags = True

    def create(self, request: Request) -> Made:
        cloudwatch = request.client("cloudwatch")
        props = request.properties
        name = request.name("AlarmName", NAME_LIMIT)
        parameters: dict[str, Any] = only(props, *PASSED_AS_GIVEN)
        parameters |= {key: int(props[key]) for key in INTEGERS if key in props}
        if "Threshold" in props:
            parameters["Threshold"] = float(props["Threshold"])
        if "ActionsEnabled" in props:
            parameters["ActionsEnabled"] = boolean(props["ActionsEnabled"])
        if request.all_tags():
            parameters["Tags"] = request.all_tags()
        cloudwatch.put_metric_alarm(AlarmName=name, **parameters)
        arn = f"arn:aws:cloudwatch:{request.region}:{request.account}:alarm:{name}"
        return Made(name, {"Arn": arn})

    def delete(self, request: Request, made: Made) -> None:
        """DeleteAlarms of an alarm that is gone succeeds: nothing to tell apart."""
        cloudwatch = request.client("cloudwatch")
        delete_quietly(lambda: cloudwatch.delete_alarms(AlarmNames=[made.physical_id]))


PROVIDERS: dict[str, Provider] = {"AWS::CloudWatch::Alarm": Alarm()}
