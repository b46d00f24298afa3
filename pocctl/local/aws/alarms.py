"""CloudWatch's metric alarms, evaluated as CloudWatch does; moto only stores them.

Amazon CloudWatch User Guide, "Using Amazon CloudWatch alarms", "Evaluating an alarm": each
minute (timing.py, alarm_evaluation) the alarm looks at its metric's last `EvaluationPeriods`
periods of `Period` seconds, each summed up by its `Statistic`, and compares each datapoint with
`Threshold` by `ComparisonOperator`; "When DatapointsToAlarm (M) of the last EvaluationPeriods
(N) data points are breaching, the alarm goes to ALARM" (M defaults to N). The periods slide
with the minute: "an alarm with a period of five minutes is evaluated every minute using a
five-minute window, offset by one minute each time: at 12:15:00 CloudWatch expects datapoints
timestamped 12:00:00, 12:05:00 and 12:10:00, at 12:16:00 12:01:00, 12:06:00 and 12:11:00" (same
guide, "Limits", alarms on connected data sources). A period without
datapoints is missing, treated by `TreatMissingData` ("Configuring how CloudWatch alarms treat
missing data"): `missing` (the default) "if all data points in the alarm evaluation range are
missing, the alarm transitions to INSUFFICIENT_DATA", `notBreaching` "missing data points are
treated as being within the threshold", `breaching` "as breaching the threshold", `ignore` "the
current alarm state is maintained"; alarms on AWS/DynamoDB metrics always ignore missing data
(PutMetricAlarm, TreatMissingData). CloudWatch reads an evaluation range longer than N periods
("How alarm state is evaluated when data is missing"): with at least N real datapoints in it, it
evaluates the most recent N of them and "the value you set for how to treat missing data is not
needed and is ignored"; with fewer, it fills in missing ones, "as few times as possible", treated
as the alarm says. Its tables (acted out row by row in tests/test_local_alarms.py) and "Avoiding
premature transitions to alarm state" ("alarms are designed to always go into ALARM state when
the oldest available breaching datapoint during the Evaluation Periods number of data points is at
least as old as the value of Datapoints to Alarm, and all other more recent data points are
breaching or missing") settle the rest: with only breaching data, too little and too recent,
`missing` gives INSUFFICIENT_DATA and `ignore` keeps the state. Not acted out: percentile and
anomaly-detection alarms, metric math.

A change of state is recorded in the alarm's history and its actions for the new state are
carried out if `ActionsEnabled`: AlarmActions on ALARM, OKActions on OK, InsufficientDataActions
on INSUFFICIENT_DATA. An SNS action publishes with MessageStructure json: email subscribers get
CloudWatch's text mail (`mail_text`), every other protocol the alarm's JSON message, with the
subject
`ALARM: "name" in US East (N. Virginia)`: fields as in the message AWS recorded in
aws/aws-lambda-go's events/testdata/cloudwatch-alarm-sns-payload-single-metric.json (AlarmName,
AlarmDescription, AWSAccountId, NewStateValue, NewStateReason, StateChangeTime, Region,
AlarmArn, OldStateValue, Trigger with its MetricName, Namespace, Statistic, Dimensions, Period,
EvaluationPeriods, ComparisonOperator, Threshold, TreatMissingData), the state reasons worded as
there ("Threshold Crossed: 1 out of the last 1 datapoints [1234.0 (06/03/15 17:43:27)] was
greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).") and in the
sample events of the CloudWatch User Guide, "Alarm events and EventBridge" ("... was not greater
than the threshold (50.0) (minimum 1 datapoint for ALARM -> OK transition).", its reason data
with queryDate, startDate, statistic, period, recentDatapoints, threshold). Other
actions (Auto Scaling, EC2, Lambda) are not carried out: the emulator's log says so.

CloudWatch publishes as a service, not as the account: the topic's own policy must let it
("Failed to execute action arn:aws:sns:... Received error: "Resource: arn:aws:cloudwatch:...:alarm:
... is not authorized to perform: SNS:Publish on resource: arn:aws:sns:... because no
resource-based policy allows the SNS:Publish action"", aws-solutions/
automated-security-response-on-aws#43; "CW Alarms are sent by a shared AWS principal, not the
owning account", PRX/Infrastructure#335). SNS's default topic policy lets anyone publish whose
`AWS:SourceOwner` is the account, which CloudWatch's publish is. A topic encrypted with the
AWS managed key `alias/aws/sns` can't take CloudWatch's notifications either: that key's policy
can't be changed to let CloudWatch use it ("CloudWatch Alarms does not have authorization to
access the SNS topic encryption key", awslabs/landing-zone-accelerator-on-aws#31;
ASFHyP3/hyp3#762, aws/aws-cdk#11121). A refused action is in the emulator's log; the state
change stands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from pocctl.local.aws.metrics import Metrics, Series
from pocctl.local.policy import Request, principal_names_service, statement_applies

Compare = Callable[[float, float], bool]
COMPARED: dict[str, tuple[str, Compare]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
REGION_NAMES = {  # as CloudWatch names the region in its messages' Region and subject
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-central-1": "EU (Frankfurt)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
}
SUBJECT_LIMIT = 100  # SNS refuses a longer subject (sns_publish.py)
# (region, topic ARN, subject, message): a message of MessageStructure json, a key per protocol
Publish = Callable[[str, str, str, str], None]
TopicPolicy = Callable[[str], list[dict[str, Any]]]  # topic ARN -> its policy's statements
TopicKey = Callable[[str], str]  # topic ARN -> its KmsMasterKeyId ("" if none)
CLOUDWATCH = "cloudwatch.amazonaws.com"
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
# The guide sizes the evaluation range only by its example: "CloudWatch retrieves the 5 most
# recent data points" for 3 Evaluation Periods ("How alarm state is evaluated when data is
# missing"); the emulator reads 2 periods more than EvaluationPeriods for every alarm.
RANGE_BEYOND_EVALUATION_PERIODS = 2


@dataclass(frozen=True)
class Datapoint:
    timestamp: datetime
    value: float | None  # None: missing


@dataclass(frozen=True)
class Verdict:
    state: str
    reason: str
    reason_data: str


def evaluated(datapoints: list[Datapoint], periods: int) -> list[Datapoint]:
    """The `periods` datapoints CloudWatch evaluates out of the evaluation range (both newest
    first): the most recent real ones if there are enough, else every real one and as few
    missing ones, the most recent, as make up the number."""
    present = [p for p in datapoints if p.value is not None]
    if len(present) >= periods:
        return present[:periods]
    gaps = [p for p in datapoints if p.value is None][: periods - len(present)]
    return sorted(present + gaps, key=lambda p: p.timestamp, reverse=True)


def evaluate(alarm: Any, datapoints: list[Datapoint], current: str) -> Verdict | None:
    """The state `alarm` (moto's) should be in for the datapoints of its evaluation range, newest
    first; None: keep the current one. The reasons are CloudWatch's wording."""
    operator = COMPARED.get(alarm.comparison_operator)
    if operator is None:
        return None
    words, breaches = operator
    threshold = float(alarm.threshold)
    wanted = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    treat = alarm.treat_missing_data or "missing"
    if alarm.namespace == "AWS/DynamoDB":
        treat = "ignore"
    points = evaluated(datapoints, int(alarm.evaluation_periods))
    present = [p for p in points if p.value is not None]
    breaching = [p for p in present if p.value is not None and breaches(p.value, threshold)]
    calm = [p for p in present if p not in breaching]
    missing = len(points) - len(present)
    counted_breaching = len(breaching) + (missing if treat == "breaching" else 0)
    data = reason_data(alarm, points, threshold)
    if counted_breaching >= wanted and not present:
        reason = (
            f"Threshold Crossed: no datapoints were received for {missing} "
            f"{plural(missing, 'period')} and {missing} missing {plural(missing, 'datapoint')} "
            f"{'was' if missing == 1 else 'were'} treated as [Breaching]."
        )
        return Verdict("ALARM", reason, data)
    if counted_breaching >= wanted or premature(points, breaching, calm, wanted, treat):
        if treat == "ignore" and counted_breaching < wanted:
            return None  # the guide's tables: "Retain current state"
        reason = (
            f"Threshold Crossed: {len(breaching)} out of the last {len(points)} datapoints "
            f"{listed(breaching)} "
            f"{'was' if len(breaching) == 1 else 'were'} {words} the threshold ({threshold!r}) "
            f"(minimum {wanted} {plural(wanted, 'datapoint')} for {current} -> ALARM transition)."
        )
        return Verdict("ALARM", reason, data)
    if treat in ("missing", "ignore") and not calm:
        # Only breaching data, too little and too recent to alarm: no datapoint says OK either.
        if treat == "ignore":
            return None
        return Verdict(
            "INSUFFICIENT_DATA",
            f"Insufficient Data: {missing} {plural(missing, 'datapoint')} "
            f"{'was' if missing == 1 else 'were'} unknown.",
            data,
        )
    if not calm:  # notBreaching: only the missing datapoints kept it OK
        return Verdict(
            "OK",
            f"Threshold Crossed: no datapoints were received for {missing} "
            f"{plural(missing, 'period')} and {missing} missing {plural(missing, 'datapoint')} "
            f"{'was' if missing == 1 else 'were'} treated as [NonBreaching].",
            data,
        )
    needed = len(points) - wanted + 1  # fewer than M breaching
    reason = (
        f"Threshold Crossed: {len(calm)} out of the last {len(points)} datapoints "
        f"{listed(calm)} {'was' if len(calm) == 1 else 'were'} not {words} the threshold "
        f"({threshold!r}) (minimum {needed} {plural(needed, 'datapoint')} for {current} -> OK "
        "transition)."
    )
    return Verdict("OK", reason, data)


def premature(
    points: list[Datapoint],
    breaching: list[Datapoint],
    calm: list[Datapoint],
    wanted: int,
    treat: str,
) -> bool:
    """The guide's "Avoiding premature transitions to alarm state": with missing data treated as
    missing, the alarm goes to ALARM when the oldest breaching datapoint is at least M periods
    old and every more recent one is breaching or missing, though fewer than M are there."""
    if treat not in ("missing", "ignore") or not breaching or calm:
        return False
    oldest = max(points.index(p) for p in breaching) + 1
    return oldest >= wanted


def plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def listed(points: list[Datapoint]) -> str:
    shown = ", ".join(f"{p.value!r} ({p.timestamp.strftime('%d/%m/%y %H:%M:%S')})" for p in points)
    return f"[{shown}]"


def reason_data(alarm: Any, datapoints: list[Datapoint], threshold: float) -> str:
    present = [p for p in datapoints if p.value is not None]
    return json.dumps(
        {
            "version": "1.0",
            "queryDate": iso(datapoints[0].timestamp + timedelta(seconds=int(alarm.period))),
            "startDate": iso(datapoints[-1].timestamp),
            "statistic": alarm.statistic,
            "period": int(alarm.period),
            "recentDatapoints": [p.value for p in reversed(present)],
            "threshold": threshold,
            "evaluatedDatapoints": [
                {"timestamp": iso(p.timestamp), "value": p.value} for p in present
            ],
        }
    )


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def region_name(region: str) -> str:
    return REGION_NAMES.get(region, region)


def notification(alarm: Any, account: str, old: str, changed_at: datetime) -> tuple[str, str]:
    """(subject, message) of the alarm's notification to an SNS topic."""
    subject = f'{alarm.state_value}: "{alarm.name}" in {region_name(alarm.region_name)}'
    message = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": iso(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": iso(changed_at),
        "Region": region_name(alarm.region_name),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "Statistic",
            "Statistic": str(alarm.statistic).upper(),
            "Unit": alarm.unit,
            "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
            "Period": int(alarm.period),
            "EvaluationPeriods": int(alarm.evaluation_periods),
            "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        },
    }
    return subject[:SUBJECT_LIMIT], json.dumps(message)


def mail_text(alarm: Any, account: str, old: str, changed_at: datetime) -> str:
    """The mail an email subscriber gets, as CloudWatch writes it: laid out as the real mails
    quoted in public repositories ("You are receiving this email because your Amazon CloudWatch
    Alarm "awsec2-i-0b41c232eabc69685-CPU-Utilization" in the US West (Oregon) region has
    entered the ALARM state, because "Threshold Crossed: ..." at "Monday 05 August, 2019
    17:04:03 UTC"." then Alarm Details, Threshold, Monitored Metric, State Change Actions)."""
    region = alarm.region_name
    when = changed_at.strftime("%A %d %B, %Y %H:%M:%S UTC")
    periods, wanted = (
        int(alarm.evaluation_periods),
        int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
    )
    lasting = (
        f"for {int(alarm.period)} seconds"
        if periods == 1
        else f"for at least {wanted} of the last {periods} period(s) of {int(alarm.period)} seconds"
    )
    dimensions = ", ".join(f"{d.name} = {d.value}" for d in alarm.dimensions)
    console = (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#s=Alarms&alarm={quote(alarm.name, safe='')}"
    )

    def actions(listed: Any) -> str:
        return f"[{', '.join(listed)}]" if listed else ""

    return "\n".join(
        [
            f'You are receiving this email because your Amazon CloudWatch Alarm "{alarm.name}" '
            f"in the {region_name(region)} region has entered the {alarm.state_value} state, "
            f'because "{alarm.state_reason}" at "{when}".',
            "",
            "View this alarm in the AWS Management Console:",
            console,
            "",
            "Alarm Details:",
            f"- Name:                       {alarm.name}",
            f"- Description:                {alarm.description or ''}",
            f"- State Change:               {old} -> {alarm.state_value}",
            f"- Reason for State Change:    {alarm.state_reason}",
            f"- Timestamp:                  {when}",
            f"- AWS Account:                {account}",
            "",
            "Threshold:",
            f"- The alarm is in the ALARM state when the metric is {alarm.comparison_operator} "
            f"{float(alarm.threshold)!r} {lasting}. ",
            "",
            "Monitored Metric:",
            f"- MetricNamespace:                     {alarm.namespace}",
            f"- MetricName:                          {alarm.metric_name}",
            f"- Dimensions:                          [{dimensions}]",
            f"- Period:                              {int(alarm.period)} seconds",
            f"- Statistic:                           {alarm.statistic}",
            f"- Unit:                                {alarm.unit or 'not specified'}",
            "",
            "",
            "",
            "State Change Actions:",
            f"- OK: {actions(alarm.ok_actions)}",
            f"- ALARM: {actions(alarm.alarm_actions)}",
            f"- INSUFFICIENT_DATA: {actions(alarm.insufficient_data_actions)}",
            "",
        ]
    )


def cloudwatch_may_publish(
    statements: list[dict[str, Any]], topic: str, alarm_arn: str, account: str
) -> bool:
    """Whether the topic's policy lets CloudWatch publish this alarm's notification."""
    request = Request(
        "sns:Publish",
        (topic,),
        {"aws:SourceArn": alarm_arn, "aws:SourceAccount": account, "AWS:SourceOwner": account},
    )
    allowed = False
    for statement in statements:
        if not principal_names_service(statement.get("Principal"), CLOUDWATCH):
            continue
        if statement_applies(statement, request, topic):
            if statement.get("Effect") == "Deny":
                return False
            allowed = statement.get("Effect") == "Allow" or allowed
    return allowed


class Alarms:
    def __init__(
        self,
        metrics: Metrics,
        account: str,
        publish: Publish,
        log: Callable[[str], None],
        topic_policy: TopicPolicy = lambda topic: [],
        topic_key: TopicKey = lambda topic: "",
    ) -> None:
        self.metrics = metrics
        self.account = account
        self.publish = publish
        self.log = log
        self.topic_policy = topic_policy
        self.topic_key = topic_key

    def evaluate_all(self, region: str, minute: int) -> None:
        """Evaluate every metric alarm of the region at the end of `minute`."""
        from moto.cloudwatch.models import cloudwatch_backends

        for alarm in list(cloudwatch_backends[self.account][region].alarms.values()):
            if alarm.rule or alarm.metric_data_queries or alarm.statistic not in STATISTICS:
                continue  # composite, metric math, percentiles: not acted out
            verdict = evaluate(alarm, self.datapoints(region, alarm, minute), alarm.state_value)
            if verdict is not None and verdict.state != alarm.state_value:
                self.change(alarm, verdict, self.metrics.timeline.timestamp(minute + 1))

    def datapoints(self, region: str, alarm: Any, minute: int) -> list[Datapoint]:
        """The datapoints of the alarm's evaluation range, newest first, missing ones as None."""
        series = Series.of(
            region,
            alarm.namespace,
            alarm.metric_name,
            {d.name: d.value for d in alarm.dimensions},
        )
        length = max(1, int(alarm.period) // 60)
        points = []
        for back in range(int(alarm.evaluation_periods) + RANGE_BEYOND_EVALUATION_PERIODS):
            last = minute - back * length
            first = last - length + 1
            stat = self.metrics.period(series, first, last) if last >= 0 else None
            if stat is not None and alarm.unit and stat.unit != alarm.unit:
                stat = None  # an alarm's unit that isn't the metric's finds no data
            value = None if stat is None else stat.value(alarm.statistic)
            points.append(Datapoint(self.metrics.timeline.timestamp(first), value))
        return points

    def change(self, alarm: Any, verdict: Verdict, at: datetime) -> None:
        old = alarm.state_value
        alarm.update_state(verdict.reason, verdict.reason_data, verdict.state)  # and its history
        self.act(alarm, old, at)

    def act(self, alarm: Any, old: str, at: datetime) -> None:
        """Carry out the actions for the state the alarm has just changed to from `old`."""
        if not alarm.actions_enabled:
            return
        actions = {
            "ALARM": alarm.alarm_actions,
            "OK": alarm.ok_actions,
            "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
        }[alarm.state_value]
        subject, message = notification(alarm, self.account, old, at)
        structured = json.dumps(
            {"default": message, "email": mail_text(alarm, self.account, old, at)}
        )
        for action in actions:
            if not action.startswith("arn:") or action.split(":")[2] != "sns":
                self.log(f"alarm {alarm.name}: action {action} is not carried out offline")
                continue
            refused = self.refusal(alarm, action)
            if refused is not None:
                self.log(f"alarm {alarm.name}: Failed to execute action {action}. {refused}")
                continue
            try:
                self.publish(alarm.region_name, action, subject, structured)
            except Exception as exc:
                self.log(f"alarm {alarm.name}: Failed to execute action {action}. {exc}")

    def refusal(self, alarm: Any, topic: str) -> str | None:
        """Why CloudWatch may not publish to the topic, or None."""
        if self.topic_key(topic) == AWS_MANAGED_SNS_KEY:
            return "CloudWatch Alarms does not have authorization to access the SNS topic key."
        if cloudwatch_may_publish(self.topic_policy(topic), topic, alarm.alarm_arn, self.account):
            return None
        return (
            f'Received error: "Resource: {alarm.alarm_arn} is not authorized to perform: '
            f"SNS:Publish on resource: {topic} because no resource-based policy allows the "
            'SNS:Publish action"'
        )
