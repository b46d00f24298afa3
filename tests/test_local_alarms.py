"""`pocctl local` publishes the services' metrics each minute and evaluates CloudWatch alarms on
them, mailing their notifications through SNS. The clock is the test's: "a minute later" costs
nothing, and each test waits for the emulator to have closed that minute."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from pocctl.local import pollers
from pocctl.local.aws.alarms import Datapoint, evaluate
from pocctl.local.aws.base import World
from pocctl.local.aws.metrics import Metrics, Series
from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import Emulator
from pocctl.local.functions import Invocation
from pocctl.local.pollers import StreamPoller, created_seconds

from .clocked import Clock, client, fixtures
from .test_aws_behaviours import LAMBDA_TRUST, zipped

EMAIL = "ops@example.com"
EMAIL_JSON = "ops-robot@example.com"  # an email-json subscriber: gets the alarm's JSON
WAIT_SECONDS = 20.0
RAISES = "def handler(event, context):\n    raise ValueError('the writer is broken')\n"
WORKS = "def handler(event, context):\n    return {'ok': True}\n"

clock, emulator = fixtures()


def eventually(condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {what}")


def next_minute(emulator: Emulator, clock: Clock) -> None:
    """A minute of CloudWatch's later, once the emulator has closed the minute under way
    (published its metrics, evaluated the alarms)."""
    timeline = emulator.cloudwatch.metrics.timeline
    closing = timeline.minute()
    clock.now += timeline.length
    eventually(lambda: emulator.cloudwatch.closed >= closing, f"minute {closing} closed")


def state(emulator: Emulator, alarm: str) -> dict[str, Any]:
    found: dict[str, Any] = client(emulator, "cloudwatch").describe_alarms(AlarmNames=[alarm])[
        "MetricAlarms"
    ][0]
    return found


def alarm_topic(emulator: Emulator) -> str:
    sns = client(emulator, "sns")
    topic: str = sns.create_topic(Name="alarms")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=EMAIL)
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=EMAIL_JSON)
    assert follow_confirmation_links(emulator.outbox.messages, EMAIL) == [EMAIL]
    assert follow_confirmation_links(emulator.outbox.messages, EMAIL_JSON) == [EMAIL_JSON]
    return topic


def alarm_mails(emulator: Emulator) -> list[dict[str, Any]]:
    """The alarm's notifications as the email-json subscriber got them: CloudWatch's JSON."""
    return [
        {**m, "json": json.loads(m["message"])}
        for m in list(emulator.outbox.messages)
        if m["to"] == EMAIL_JSON and not m.get("confirm_url")
    ]


def text_mails(emulator: Emulator) -> list[dict[str, Any]]:
    """The alarm's notifications as the email subscriber, a person, got them."""
    return [
        m for m in list(emulator.outbox.messages) if m["to"] == EMAIL and not m.get("confirm_url")
    ]


def function(emulator: Emulator, clock: Clock, name: str, source: str) -> None:
    role = client(emulator, "iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )["Role"]["Arn"]
    clock.advance("iam_propagation")
    client(emulator, "lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zipped(source)},
    )
    clock.advance("function_pending")


def invoke(emulator: Emulator, name: str) -> bool:
    """Whether the function answered without an error."""
    answer = client(emulator, "lambda").invoke(FunctionName=name, Payload=b"{}")
    return "FunctionError" not in answer


def put_alarm(emulator: Emulator, name: str, **settings: Any) -> None:
    settings = {"Period": 60, **settings}
    client(emulator, "cloudwatch").put_metric_alarm(
        AlarmName=name,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        **settings,
    )


def test_a_function_that_raises_sets_off_its_errors_alarm_and_the_mail_names_it(
    emulator: Emulator, clock: Clock
) -> None:
    function(emulator, clock, "writer", RAISES)
    topic = alarm_topic(emulator)
    put_alarm(
        emulator,
        "writer-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "writer"}],
        Statistic="Sum",
        AlarmActions=[topic],
        OKActions=[topic],
    )
    assert state(emulator, "writer-errors")["StateValue"] == "INSUFFICIENT_DATA"

    assert not invoke(emulator, "writer")
    next_minute(emulator, clock)

    alarm = state(emulator, "writer-errors")
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith(
        "Threshold Crossed: 1 out of the last 1 datapoints [1.0 ("
    )
    assert alarm["StateReason"].endswith(
        "was greater than or equal to the threshold (1.0) "
        "(minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition)."
    )
    [mail] = eventually(lambda: alarm_mails(emulator), "the alarm's mail")
    assert mail["subject"] == 'ALARM: "writer-errors" in US East (N. Virginia)'
    sent = mail["json"]
    assert (sent["AlarmName"], sent["NewStateValue"], sent["OldStateValue"]) == (
        "writer-errors",
        "ALARM",
        "INSUFFICIENT_DATA",
    )
    assert sent["NewStateReason"] == alarm["StateReason"]
    assert sent["Trigger"]["MetricName"] == "Errors"
    assert sent["Trigger"]["Dimensions"] == [{"value": "writer", "name": "FunctionName"}]
    [text] = eventually(lambda: text_mails(emulator), "the alarm's text mail")
    assert text["subject"] == mail["subject"]
    assert text["message"].startswith(
        'You are receiving this email because your Amazon CloudWatch Alarm "writer-errors" in '
        'the US East (N. Virginia) region has entered the ALARM state, because "'
        + alarm["StateReason"]
        + '" at "'
    )
    for line in (
        "- State Change:               INSUFFICIENT_DATA -> ALARM",
        "- The alarm is in the ALARM state when the metric is GreaterThanOrEqualToThreshold "
        "1.0 for 60 seconds. ",
        "- Dimensions:                          [FunctionName = writer]",
        f"- ALARM: [{topic}]",
    ):
        assert line in text["message"].splitlines()

    client(emulator, "lambda").update_function_code(FunctionName="writer", ZipFile=zipped(WORKS))
    clock.advance("function_updating")
    assert invoke(emulator, "writer")
    next_minute(emulator, clock)

    assert state(emulator, "writer-errors")["StateValue"] == "OK"
    ok = eventually(lambda: alarm_mails(emulator)[1:], "the OK mail")[0]
    assert ok["subject"] == 'OK: "writer-errors" in US East (N. Virginia)'
    assert (ok["json"]["OldStateValue"], ok["json"]["NewStateValue"]) == ("ALARM", "OK")


def test_a_message_in_a_dead_letter_queue_sets_off_its_depth_alarm_until_it_is_gone(
    emulator: Emulator, clock: Clock
) -> None:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    clock.advance("queue_new")
    topic = alarm_topic(emulator)
    put_alarm(
        emulator,
        "orders-dlq-depth",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "orders-dlq"}],
        Statistic="Maximum",
        AlarmActions=[topic],
        OKActions=[topic],
    )
    next_minute(emulator, clock)
    assert state(emulator, "orders-dlq-depth")["StateValue"] == "OK"  # an empty, used queue: 0

    sqs.send_message(QueueUrl=url, MessageBody='{"orderID": "o-1"}')
    next_minute(emulator, clock)
    assert state(emulator, "orders-dlq-depth")["StateValue"] == "ALARM"
    mail = eventually(lambda: alarm_mails(emulator)[1:], "the alarm's mail")[0]
    assert mail["json"]["NewStateValue"] == "ALARM"
    assert mail["json"]["Trigger"]["Dimensions"] == [{"value": "orders-dlq", "name": "QueueName"}]

    sqs.purge_queue(QueueUrl=url)
    next_minute(emulator, clock)
    assert state(emulator, "orders-dlq-depth")["StateValue"] == "OK"
    sent = eventually(lambda: alarm_mails(emulator)[2:] and alarm_mails(emulator), "OK mail")
    # OKActions run on every change to OK, the first evaluation's too.
    assert [m["json"]["NewStateValue"] for m in sent] == ["OK", "ALARM", "OK"]


@pytest.mark.parametrize(
    ("treat", "before", "expected", "reason"),
    [
        ("missing", "OK", "INSUFFICIENT_DATA", "Insufficient Data: 1 datapoint was unknown."),
        (
            "breaching",
            "OK",
            "ALARM",
            "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
            "was treated as [Breaching].",
        ),
        (
            "notBreaching",
            "ALARM",
            "OK",
            "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
            "was treated as [NonBreaching].",
        ),
    ],
)
def test_a_function_never_invoked_has_no_datapoints_treated_as_the_alarm_says(
    emulator: Emulator, clock: Clock, treat: str, before: str, expected: str, reason: str
) -> None:
    put_alarm(
        emulator,
        "idle-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "idle"}],
        Statistic="Sum",
        TreatMissingData=treat,
    )
    client(emulator, "cloudwatch").set_alarm_state(
        AlarmName="idle-errors", StateValue=before, StateReason="set by the test"
    )
    next_minute(emulator, clock)
    alarm = state(emulator, "idle-errors")
    assert (alarm["StateValue"], alarm["StateReason"]) == (expected, reason)


def test_ignore_keeps_the_state_while_data_is_missing(emulator: Emulator, clock: Clock) -> None:
    put_alarm(
        emulator,
        "quiet-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "quiet"}],
        Statistic="Sum",
        TreatMissingData="ignore",
    )
    client(emulator, "cloudwatch").set_alarm_state(
        AlarmName="quiet-errors", StateValue="ALARM", StateReason="set by the test"
    )
    next_minute(emulator, clock)
    next_minute(emulator, clock)
    alarm = state(emulator, "quiet-errors")
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "set by the test")


def test_updating_an_alarm_keeps_its_state(emulator: Emulator, clock: Clock) -> None:
    settings: dict[str, Any] = {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "q"}],
        "Statistic": "Maximum",
    }
    put_alarm(emulator, "depth", **settings)
    client(emulator, "cloudwatch").set_alarm_state(
        AlarmName="depth", StateValue="ALARM", StateReason="set by the test"
    )
    put_alarm(emulator, "depth", **{**settings, "Statistic": "Average"})
    alarm = state(emulator, "depth")
    assert (alarm["StateValue"], alarm["Statistic"]) == ("ALARM", "Average")


def test_the_services_metrics_reach_cloudwatch_per_minute(emulator: Emulator, clock: Clock) -> None:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    clock.advance("queue_new")
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.send_message(QueueUrl=url, MessageBody="two")
    next_minute(emulator, clock)
    assert queue_metric("work", "NumberOfMessagesSent", "Sum", emulator) == [2.0]
    assert queue_metric("work", "ApproximateNumberOfMessagesVisible", "Maximum", emulator) == [2.0]


def queue_metric(queue: str, metric: str, statistic: str, emulator: Emulator) -> list[float]:
    """The metric's datapoints, a minute each, as GetMetricStatistics answers. CloudWatch's
    timeline runs ahead of the wall clock under a moved clock: the window is wide."""
    now = datetime.now(UTC)
    found = client(emulator, "cloudwatch").get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName=metric,
        Dimensions=[{"Name": "QueueName", "Value": queue}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
        Period=60,
        Statistics=[statistic],
    )["Datapoints"]
    return [float(p[statistic]) for p in found]


def test_an_idle_empty_queue_stops_publishing_after_six_hours(
    emulator: Emulator, clock: Clock
) -> None:
    client(emulator, "sqs").create_queue(QueueName="idle")
    put_alarm(
        emulator,
        "idle-depth",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "idle"}],
        Statistic="Maximum",
    )
    next_minute(emulator, clock)
    assert state(emulator, "idle-depth")["StateValue"] == "OK"
    clock.advance("queue_metrics_inactive")
    seen = []
    for _ in range(3):
        next_minute(emulator, clock)
        seen.append(state(emulator, "idle-depth")["StateValue"])
    # The last zeros stay in the alarm's evaluation range (3 periods) for a while.
    assert seen[-1] == "INSUFFICIENT_DATA", seen


class Alarm:
    """The settings `evaluate` reads, as moto keeps them."""

    comparison_operator = "GreaterThanThreshold"
    threshold = 5.0
    evaluation_periods = 3
    datapoints_to_alarm: int | None = 2
    treat_missing_data: str | None = None
    namespace = "AWS/Lambda"
    statistic = "Sum"
    period = 60


def points(*values: float | None) -> list[Datapoint]:
    start = datetime(2026, 12, 2, 21, 5, tzinfo=UTC)
    return [Datapoint(start - timedelta(minutes=i), v) for i, v in enumerate(values)]


def test_m_out_of_n_datapoints_breaching_is_an_alarm_worded_as_cloudwatch_words_it() -> None:
    verdict = evaluate(Alarm(), points(7.0, 1.0, 9.0), "OK")
    assert verdict is not None
    assert verdict.state == "ALARM"
    assert verdict.reason == (
        "Threshold Crossed: 2 out of the last 3 datapoints [7.0 (02/12/26 21:05:00), "
        "9.0 (02/12/26 21:03:00)] were greater than the threshold (5.0) "
        "(minimum 2 datapoints for OK -> ALARM transition)."
    )
    calm = evaluate(Alarm(), points(7.0, 1.0, None), "ALARM")
    assert calm is not None and calm.state == "OK"
    assert calm.reason == (
        "Threshold Crossed: 1 out of the last 3 datapoints [1.0 (02/12/26 21:04:00)] was not "
        "greater than the threshold (5.0) (minimum 2 datapoints for ALARM -> OK transition)."
    )
    assert json.loads(calm.reason_data)["recentDatapoints"] == [1.0, 7.0]


# The CloudWatch User Guide's tables, "How alarm state is evaluated when data is missing": the
# evaluation range of a 3-period alarm, oldest first (0 not breaching, X breaching, - missing),
# and the state under MISSING, IGNORE, BREACHING, NOT BREACHING ("retain": the current state).
GUIDE_TABLES = [
    (3, "0 - X - X", ("OK", "OK", "OK", "OK")),
    (3, "0 - - - -", ("OK", "OK", "OK", "OK")),
    (3, "- - - - -", ("INSUFFICIENT_DATA", "retain", "ALARM", "OK")),
    (3, "0 X X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    (3, "- - - - X", ("INSUFFICIENT_DATA", "retain", "ALARM", "OK")),
    (3, "X - - - -", ("ALARM", "retain", "ALARM", "OK")),
    (3, "- - X - -", ("ALARM", "retain", "ALARM", "OK")),
    (2, "0 - X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    (2, "0 0 X 0 X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    (2, "0 - X - -", ("OK", "OK", "ALARM", "OK")),
    (2, "- - - - 0", ("OK", "OK", "ALARM", "OK")),
    (2, "- - - - X", ("INSUFFICIENT_DATA", "retain", "ALARM", "OK")),
]
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


@pytest.mark.parametrize(
    ("wanted", "row", "treat", "expected"),
    [
        (wanted, row, treat, expected)
        for wanted, row, states in GUIDE_TABLES
        for treat, expected in zip(TREATMENTS, states, strict=True)
    ],
)
def test_the_evaluation_range_gives_the_guides_states(
    wanted: int, row: str, treat: str, expected: str
) -> None:
    alarm = Alarm()
    alarm.datapoints_to_alarm, alarm.treat_missing_data = wanted, treat
    value = {"0": 1.0, "X": 9.0, "-": None}
    for current in ("OK", "ALARM", "INSUFFICIENT_DATA"):
        verdict = evaluate(alarm, points(*[value[c] for c in reversed(row.split())]), current)
        assert (current if verdict is None else verdict.state) == (
            current if expected == "retain" else expected
        ), current


@pytest.mark.parametrize(
    ("wanted", "periods", "values", "under_missing"),
    [(2, 3, (None, 7.0, None), "ALARM"), (2, 2, (7.0, None), "INSUFFICIENT_DATA")],
)
def test_only_breaching_data_never_turns_an_alarm_ok(
    wanted: int, periods: int, values: tuple[float | None, ...], under_missing: str
) -> None:
    alarm = Alarm()
    alarm.datapoints_to_alarm, alarm.evaluation_periods = wanted, periods
    for treat, expected in (("missing", under_missing), ("ignore", "ALARM")):
        alarm.treat_missing_data = treat
        verdict = evaluate(alarm, points(*values, None, None), "ALARM")
        assert (verdict.state if verdict else "ALARM", treat) == (expected, treat)
    alarm.treat_missing_data = "missing"
    verdict = evaluate(alarm, points(*values, None, None), "OK")
    assert verdict is not None and verdict.state == under_missing
    assert "0 out of" not in verdict.reason and "[]" not in verdict.reason
    alarm.treat_missing_data = "notBreaching"
    verdict = evaluate(alarm, points(*values, None, None), "ALARM")
    assert verdict is not None and verdict.state == "OK"
    assert verdict.reason.endswith("treated as [NonBreaching].")


def depth_alarm_on(emulator: Emulator, clock: Clock, topic: str) -> None:
    """An alarm on a queue that already holds a message, notifying `topic`."""
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="held")["QueueUrl"]
    clock.advance("queue_new")
    sqs.send_message(QueueUrl=url, MessageBody="stuck")
    put_alarm(
        emulator,
        "held-depth",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "held"}],
        Statistic="Maximum",
        AlarmActions=[topic],
    )


def test_a_topic_whose_policy_leaves_cloudwatch_out_gets_no_notification(
    emulator: Emulator, clock: Clock
) -> None:
    topic = alarm_topic(emulator)
    only_the_account = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sns:Publish",
                "Resource": topic,
            }
        ],
    }
    client(emulator, "sns").set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(only_the_account)
    )
    depth_alarm_on(emulator, clock, topic)
    next_minute(emulator, clock)
    assert state(emulator, "held-depth")["StateValue"] == "ALARM"
    assert alarm_mails(emulator) == []


def test_a_topic_encrypted_with_the_aws_managed_key_gets_no_notification(
    emulator: Emulator, clock: Clock
) -> None:
    topic = alarm_topic(emulator)
    client(emulator, "sns").set_topic_attributes(
        TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue="alias/aws/sns"
    )
    depth_alarm_on(emulator, clock, topic)
    next_minute(emulator, clock)
    assert state(emulator, "held-depth")["StateValue"] == "ALARM"
    assert alarm_mails(emulator) == []


def test_the_default_topic_policy_lets_cloudwatch_notify(emulator: Emulator, clock: Clock) -> None:
    topic = alarm_topic(emulator)
    depth_alarm_on(emulator, clock, topic)
    next_minute(emulator, clock)
    assert [m["json"]["AlarmName"] for m in alarm_mails(emulator)] == ["held-depth"]


def test_a_five_minute_period_slides_a_minute_at_a_time(emulator: Emulator, clock: Clock) -> None:
    function(emulator, clock, "once", RAISES)
    put_alarm(
        emulator,
        "once-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "once"}],
        Statistic="Sum",
        Period=300,
    )
    assert not invoke(emulator, "once")
    seen = []
    for _ in range(16):
        next_minute(emulator, clock)
        seen.append(state(emulator, "once-errors")["StateValue"])
    # The failed minute is in each five-minute window for five evaluations, then in the
    # evaluation range (three periods, 15 minutes): CloudWatch evaluates that real datapoint
    # rather than the missing ones until it leaves the range at the sixteenth.
    assert seen == ["ALARM"] * 15 + ["INSUFFICIENT_DATA"]


def test_iterator_age_reads_in_aws_milliseconds_at_any_time_scale() -> None:
    """A backlog AWS reports as 30 s reads 30,000 ms, though at a time scale of 0.02 the
    emulator built it in 0.6 s."""
    series = Series.of("us-east-1", "AWS/Lambda", "IteratorAge", {"FunctionName": "notifier"})
    for scale in (1.0, 0.02):
        metrics = Metrics(World(timing=Timing(scale=scale), client=no_client, account="1" * 12))
        metrics.iterator_age("us-east-1", "notifier", 30_000 * scale)
        stat = metrics.period(series, metrics.timeline.minute(), metrics.timeline.minute())
        assert stat is not None and stat.maximum == pytest.approx(30_000), scale


def no_client(service: str, region: str) -> Any:
    raise AssertionError("no AWS call expected")


class Answers:
    def invoke(self, region: str, function: str, event: dict[str, Any]) -> Invocation:
        return Invocation(True)


def test_a_records_age_counts_from_its_creation_to_the_microsecond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The event says 999 (whole seconds, as AWS's does); the record was created at 999.9, sent
    at 1000.0: 100 ms old, not 1000."""
    poller = StreamPoller(
        {
            "UUID": "u-1",
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:notifier",
            "EventSourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/s",
        },
        cast(Any, Answers()),
        no_client,
        lambda line: None,
        {},
    )
    ages: list[float] = []
    poller.iterator_age = lambda region, function, age_ms: ages.append(age_ms)
    created = datetime.fromtimestamp(999.9, UTC)
    poller.created_at = {"7": created_seconds({"ApproximateCreationDateTime": created}) or 0.0}
    monkeypatch.setattr(pollers, "time", SimpleNamespace(time=lambda: 1000.0))
    event = {"dynamodb": {"SequenceNumber": "7", "ApproximateCreationDateTime": 999}}
    poller.process([event], "shard-1")
    assert ages == [pytest.approx(100.0)]


def test_set_alarm_state_carries_out_the_new_states_actions_once(
    emulator: Emulator, clock: Clock
) -> None:
    topic = alarm_topic(emulator)
    put_alarm(
        emulator,
        "tried",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "tried"}],
        Statistic="Sum",
        AlarmActions=[topic],
    )
    cloudwatch = client(emulator, "cloudwatch")
    for _ in range(2):  # the second leaves the state as it is: no action
        cloudwatch.set_alarm_state(AlarmName="tried", StateValue="ALARM", StateReason="a drill")
    [mail] = eventually(lambda: alarm_mails(emulator), "the alarm's mail")
    assert mail["subject"] == 'ALARM: "tried" in US East (N. Virginia)'
    assert (mail["json"]["OldStateValue"], mail["json"]["NewStateReason"]) == (
        "INSUFFICIENT_DATA",
        "a drill",
    )
    cloudwatch.set_alarm_state(AlarmName="tried", StateValue="OK", StateReason="no OK action")
    cloudwatch.set_alarm_state(AlarmName="tried", StateValue="ALARM", StateReason="again")
    eventually(lambda: len(alarm_mails(emulator)) == 2, "the second ALARM mail")
    assert [m["json"]["NewStateReason"] for m in alarm_mails(emulator)] == ["a drill", "again"]


def test_api_gateway_metrics_are_also_under_the_api_name_alone_in_ascii() -> None:
    """An alarm on {ApiName} alone (the console's default) finds the API's 5XX errors; the name
    loses its non-ASCII characters, and one with none left is named by its id."""
    metrics = Metrics(World(timing=Timing(), client=no_client, account="1" * 12))
    minute = metrics.timeline.minute()
    metrics.api_answered("us-east-1", ("Bestellungen-ü", "a1b2c3"), "dev", 502, 12.0)
    metrics.api_answered("us-east-1", ("注文", "d4e5f6"), "dev", 200, 8.0)

    def errors(dimensions: dict[str, str]) -> float | None:
        series = Series.of("us-east-1", "AWS/ApiGateway", "5XXError", dimensions)
        stat = metrics.period(series, minute, minute)
        return None if stat is None else stat.sum

    assert errors({"ApiName": "Bestellungen-"}) == 1.0
    assert errors({"ApiName": "Bestellungen-", "Stage": "dev"}) == 1.0
    assert errors({"ApiName": "Bestellungen-ü"}) is None
    assert errors({"ApiName": "d4e5f6"}) == 0.0


def test_a_woken_idle_queue_reaches_cloudwatch_fifteen_minutes_late(
    emulator: Emulator, clock: Clock
) -> None:
    """A message in a queue idle for six hours: its alarm and GetMetricStatistics see nothing
    for 15 minutes, then the depth of each minute since it woke."""
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="sleepy")["QueueUrl"]
    put_alarm(
        emulator,
        "sleepy-depth",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "sleepy"}],
        Statistic="Maximum",
    )
    next_minute(emulator, clock)
    clock.advance("queue_metrics_inactive")
    next_minute(emulator, clock)

    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    seen = []
    for _ in range(16):
        next_minute(emulator, clock)
        seen.append(state(emulator, "sleepy-depth")["StateValue"])
    assert seen == ["INSUFFICIENT_DATA"] * 15 + ["ALARM"]
    woke = emulator.cloudwatch.metrics.timeline.timestamp(0) + timedelta(hours=6)
    depths = client(emulator, "cloudwatch").get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "sleepy"}],
        StartTime=woke,
        EndTime=woke + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    # each minute since it woke, timestamped as it was
    assert [p["Maximum"] for p in depths].count(1.0) == 16


def test_a_datapoint_seen_as_its_minute_closes_is_published_the_next_minute() -> None:
    """The invocation is counted after the emulator closed (published) its minute, before the
    clock shows the next: it reaches CloudWatch with the next minute, not never."""
    from moto.cloudwatch.models import cloudwatch_backends

    account = "210987654321"
    metrics = Metrics(World(timing=Timing(), client=no_client, account=account))
    minute = metrics.timeline.minute()
    metrics.close(minute, set())  # the tick's close, a hair before the clock turns
    metrics.invoked("us-east-1", "late", False, 3.0)
    metrics.close(minute + 1, set())
    published = [
        d
        for d in cloudwatch_backends[account]["us-east-1"].metric_data
        if d.name == "Errors" and d.dimensions[0].value == "late"
    ]
    assert [d.sum for d in published] == [1.0]


def test_a_minute_whose_publishing_failed_is_published_whole_when_tried_again() -> None:
    """A bug of ours that raises while a minute's datapoints go to CloudWatch: the tick closes
    the same minute again, and none of its datapoints is lost."""
    now = [0.0]
    world = World(
        timing=Timing(scale=0.02),
        client=lambda *_: None,
        account="123456789012",
        clock=lambda: now[0],
        wall=lambda: 1.7e9,
    )
    metrics = Metrics(world)
    published: list[str] = []
    attempts = [0]

    def publish(series: Series, minute: int, stat: Any) -> None:
        attempts[0] += 1
        if attempts[0] == 2:
            raise RuntimeError("a bug of ours")
        published.append(series.name)

    metrics._publish = publish  # type: ignore[method-assign]
    metrics.invoked("us-east-1", "writer", True, 3.0)  # four series in minute 0
    now[0] += metrics.timeline.length
    with pytest.raises(RuntimeError):
        metrics.close(0, set())
    metrics.close(0, set())
    assert set(published) == {"Invocations", "Errors", "Throttles", "Duration"}
