"""CloudWatch metric alarms: each tells the stack's alarm topic when something needs a person.

Each alarm is one `AlarmStep`, whose `desired` is exactly what PutMetricAlarm takes (the one
description of the alarm, which a template can also be made from). The defaults follow the
CloudWatch User Guide, "Recommended alarms" (Best_Practice_Recommended_Alarms_AWS_Services):
API Gateway 5XXError as an Average (the share of requests) over 0.05; Lambda Errors as a Sum;
Lambda IteratorAge as a Maximum over 30,000 ms; a dead-letter queue's
ApproximateNumberOfMessagesVisible, which is above zero only when something failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pocctl.core.aws import aws_errors, delete, tag_dict, tag_list
from pocctl.core.context import Context
from pocctl.core.reporting import Outcome
from pocctl.resources.base import (
    Change,
    Leftover,
    Live,
    Plan,
    Step,
    Unwanted,
    arn_parts,
    destroy_ours,
    diff,
    is_ours,
    removal,
    require_ours,
)
from pocctl.resources.cloudformation import Resources, cfn_resource, logical_id, tag_entries
from pocctl.resources.topic import topic_arn

ALARMS_OFF = "alarms are off (--no-alarms, or alarms = false)"
# The settings of an alarm `plan` compares (what PutMetricAlarm sets), and how DescribeAlarms
# answers each.
COMPARED = (
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ComparisonOperator",
    "Threshold",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "TreatMissingData",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "Unit",
    "ExtendedStatistic",
    "AlarmDescription",
)
# "Sets how this alarm is to handle missing data points": `ignore` keeps the alarm's state
# (CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data"). A queue's
# depth must not turn OK by itself: "When an Amazon SQS queue is inactive for more than six
# hours ... stops delivering metrics" (SQS Developer Guide, "Available CloudWatch metrics for
# Amazon SQS"; quoted in getlift/lift PR #337), so `notBreaching` would mail a false OK while an
# order still sits in the dead-letter queue.
KEEP_STATE = "ignore"
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


@dataclass(frozen=True)
class Metric:
    """What an alarm watches and when it fires, apart from the stack-wide settings."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    comparison: str
    threshold: float
    description: str  # AlarmDescription
    fires_when: str = ""  # what it catches, for `status`
    missing_data: str | None = None  # TreatMissingData it needs, whatever the setting


def alarm_arn(ctx: Context, alarm_name: str) -> str:
    return ctx.arn("cloudwatch", f"alarm:{alarm_name}")


def find_alarm(ctx: Context, alarm_name: str) -> dict[str, Any] | None:
    found = ctx.client("cloudwatch").describe_alarms(
        AlarmNames=[alarm_name], AlarmTypes=["MetricAlarm"]
    )["MetricAlarms"]
    return found[0] if found else None


def tags_of(ctx: Context, alarm_name: str) -> dict[str, str]:
    listed = ctx.client("cloudwatch").list_tags_for_resource(ResourceARN=alarm_arn(ctx, alarm_name))
    return tag_dict(listed.get("Tags"))


def alarm_tags(ctx: Context, alarm_name: str) -> dict[str, str] | None:
    """The alarm's tags, or None when there is no such alarm."""
    if find_alarm(ctx, alarm_name) is None:
        return None
    return tags_of(ctx, alarm_name)


def comparable(setting: str, value: Any) -> Any:
    """A setting as DescribeAlarms answers it and PutMetricAlarm takes it, made comparable:
    dimensions and actions in any order, numbers as floats."""
    if setting == "Dimensions":
        return sorted((d["Name"], d["Value"]) for d in value or [])
    if setting in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        return sorted(value or [])
    if setting == "Threshold":
        return float(value) if value is not None else None
    return value


@dataclass(eq=False, kw_only=True)
class AlarmStep(Step[dict[str, Any]]):
    kind: ClassVar[str] = "CloudWatch alarm"
    arns: ClassVar[tuple[str, str] | None] = ("cloudwatch", "alarm:")

    key: str
    alarm_name: str
    metric: Metric
    topic_name: str  # the alarm topic: ALARM and OK both notify it
    period: int
    evaluation_periods: int
    missing_data: str
    enabled: bool = True
    depends_on: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.alarm_name

    @property
    def wanted(self) -> bool:
        return self.enabled

    def desired(self, ctx: Context) -> dict[str, Any]:
        """PutMetricAlarm's parameters (tags apart): standard resolution, every evaluated period
        breaching (DatapointsToAlarm given, so that a console's "M out of N" shows as drift),
        both transitions notifying the alarm topic (so that a fix sends an OK mail)."""
        m = self.metric
        topic = [topic_arn(ctx, self.topic_name)]
        return {
            "AlarmName": self.alarm_name,
            "AlarmDescription": m.description,
            "Namespace": m.namespace,
            "MetricName": m.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions],
            "Statistic": m.statistic,
            "ComparisonOperator": m.comparison,
            "Threshold": m.threshold,
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.evaluation_periods,
            "TreatMissingData": m.missing_data or self.missing_data,
            "ActionsEnabled": True,
            "AlarmActions": topic,
            "OKActions": topic,
            "InsufficientDataActions": [],
        }

    def template(self, ctx: Context) -> Resources:
        """The alarm PutMetricAlarm makes from `desired`, with the stack's tags (CloudFormation
        takes an alarm's Tags since April 2024: aws-cloudformation/cloudformation-coverage-roadmap
        #64; Template Reference, AWS::CloudWatch::Alarm Tag); none with alarms off."""
        if not self.enabled:
            return {}
        properties = {**self.desired(ctx), "Tags": tag_entries(ctx.config.tags)}
        return {logical_id(self.key): cfn_resource("AWS::CloudWatch::Alarm", properties)}

    def plan(self, ctx: Context) -> Plan[dict[str, Any]]:
        with aws_errors(self.key, "DescribeAlarms"):
            found = find_alarm(ctx, self.alarm_name)
            if found is None:
                return Plan.create() if self.enabled else Plan.from_changes([])
            tags = tags_of(ctx, self.alarm_name)
        require_ours(ctx, self, tags)
        if not self.enabled:
            return Plan.from_changes([Unwanted(ALARMS_OFF)], found)
        desired = self.desired(ctx)
        changes: list[Change] = []
        for setting in COMPARED:
            changes += diff(
                setting,
                comparable(setting, found.get(setting)),
                comparable(setting, desired.get(setting)),
            )
        return Plan.from_changes(changes, found)

    def _delete(self, ctx: Context) -> None:
        cloudwatch = ctx.client("cloudwatch")
        delete(
            ctx,
            self.key,
            "DeleteAlarms",
            lambda: cloudwatch.delete_alarms(AlarmNames=[self.alarm_name]),
        )

    def apply(self, ctx: Context, plan: Plan[dict[str, Any]]) -> None:
        cloudwatch = ctx.client("cloudwatch")
        if plan.has(Unwanted):
            self._delete(ctx)
            return
        # PutMetricAlarm replaces an existing alarm's whole definition; tags apply only when it
        # creates one, and need cloudwatch:TagResource then (CloudWatch API reference,
        # PutMetricAlarm, Tags): given on creation alone.
        tags = {"Tags": tag_list(ctx.config.tags)} if plan.current is None else {}
        with aws_errors(self.key, "PutMetricAlarm"):
            cloudwatch.put_metric_alarm(**self.desired(ctx), **tags)

    def live(self, ctx: Context) -> Live:
        """The alarm's state and CloudWatch's reason for it."""
        found = find_alarm(ctx, self.alarm_name)
        if found is None:
            return Live(detail=": off" if not self.enabled else "")
        state, reason = found.get("StateValue", ""), found.get("StateReason", "")
        live = Live(detail=f": {state}", facts={"alarm_state": state, "alarm_reason": reason})
        if self.metric.fires_when:
            live.lines.append((f"alarms when {self.metric.fires_when}", True))
        if reason:
            live.lines.append((reason, state != "ALARM"))
        if state == "ALARM":
            live.warnings.append(f"alarm {self.alarm_name} is in ALARM: {reason}")
        return live

    @classmethod
    def leftover_at(cls, ctx: Context, arn: str) -> Leftover | None:
        name = arn_parts(arn)[1].removeprefix("alarm:")
        tags = alarm_tags(ctx, name)
        if tags is None or not is_ours(ctx, tags):
            return None
        command = removal(ctx, f"aws cloudwatch delete-alarms --alarm-names {name}")
        return Leftover(cls.kind, name, command)

    def destroy(self, ctx: Context) -> Outcome:
        def remove(_: dict[str, str]) -> Outcome:
            self._delete(ctx)
            return Outcome.DELETED

        return destroy_ours(
            ctx,
            self,
            "DescribeAlarms",
            lambda: alarm_tags(ctx, self.alarm_name),
            lambda tags: is_ours(ctx, tags),
            remove,
        )

    def cloudformation_tags(self, ctx: Context) -> dict[str, str] | None:
        with aws_errors(self.key, "ListTagsForResource"):
            return alarm_tags(ctx, self.alarm_name)


def topic_policy(ctx: Context, topic_name: str, alarm_prefix: str) -> dict[str, Any]:
    """The alarm topic's access policy: CloudWatch may publish to it for the stack's alarms
    only. "The access policy of the SNS topic must allow CloudWatch to publish" to it, scoped by
    aws:SourceArn and aws:SourceAccount against the confused deputy (SNS Developer Guide,
    "Example cases for Amazon SNS access control"; CloudWatch User Guide, "Using Amazon SNS
    notifications"). The account's own principals need no statement: their IAM policies grant
    them what they do, in the topic's account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StackAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn(ctx, topic_name),
                "Condition": {
                    "ArnLike": {"aws:SourceArn": alarm_arn(ctx, f"{alarm_prefix}*")},
                    "StringEquals": {"aws:SourceAccount": ctx.account_id},
                },
            }
        ],
    }


def queue_depth(queue_name: str, threshold: int, what: str) -> Metric:
    return Metric(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        (("QueueName", queue_name),),
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        float(threshold),
        f"pocctl: {what} in {queue_name}",
        f"{what} wait in {queue_name}",
        KEEP_STATE,
    )


def function_errors(function_name: str, threshold: int, what: str, caught_by: str) -> Metric:
    """Errors counts "invocations that result in a function error" (Lambda Developer Guide,
    "Types of metrics for Lambda functions"): the handlers catch each record's failure and
    answer batchItemFailures, so the invocation succeeds and only a crash, a timeout or an
    import error counts. A failing order is `caught_by` the failure-queue alarm."""
    crashed = f"{function_name} ({what}) crashed or timed out"
    return Metric(
        "AWS/Lambda",
        "Errors",
        (("FunctionName", function_name),),
        "Sum",
        "GreaterThanOrEqualToThreshold",
        float(threshold),
        f"pocctl: {crashed} (an unhandled error, a timeout, out of memory). A record it fails "
        f"on is not an error here: {caught_by} catches it.",
        crashed,
    )


def iterator_age(function_name: str, seconds: int) -> Metric:
    # IteratorAge is in milliseconds: "the age of the last record in the event" (Lambda
    # Developer Guide, "Types of metrics for Lambda functions").
    return Metric(
        "AWS/Lambda",
        "IteratorAge",
        (("FunctionName", function_name),),
        "Maximum",
        "GreaterThanThreshold",
        float(seconds * 1000),
        f"pocctl: {function_name}'s stream mapping is more than {seconds} s behind",
        f"{function_name}'s stream mapping is more than {seconds} s behind",
    )


def percent(rate: float) -> str:
    """A share as a percentage with the digits it has: 0.05 is 5%, 0.005 is 0.5%."""
    return f"{rate * 100:g}%"


def api_errors(api_name: str, stage: str, rate: float) -> Metric:
    more_than = f"{api_name} answers 5xx to more than {percent(rate)} of requests"
    return Metric(
        "AWS/ApiGateway",
        "5XXError",
        (("ApiName", api_name), ("Stage", stage)),
        "Average",
        "GreaterThanThreshold",
        rate,
        f"pocctl: {more_than}",
        more_than,
    )
