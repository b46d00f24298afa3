"""AWS's weather: every wait has a range, `--aws-timing random` draws from it once per event.

Each test runs AWS's clock by hand (an injected clock), so "the moment a table turns ACTIVE" is
a number the test finds, not a time it waits.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.core.context import Context
from pocctl.local.aws.timing import RULES, Timing
from pocctl.local.emulator import Emulator
from pocctl.local.iam import Authorizer, Propagation, RoleSnapshot
from pocctl.local.policy import Request
from pocctl.ops.health import check
from pocctl.ops.smoke import storage_blocked
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps

from .clocked import Clock, client, clocked_emulator
from .emulated import TIMING, local_context


def clocked_context(emulator: Emulator, stack: str, clock: Clock) -> Context:
    """pocctl on AWS's (the test's) clock: its pauses move it, and its pacing of Lambda's
    control plane is judged on it, as the emulator's quota is (on real time, a loaded machine's
    slow calls leave pocctl unpaced while the test's clock stands still: throttled for good)."""
    ctx = local_context(emulator, stack)
    return Context(ctx.config, ctx.reporter, session=ctx.session, sleep=clock.sleep, clock=clock)


def weather(seed: int | None, clock: Clock) -> AbstractContextManager[Emulator]:
    return clocked_emulator(clock, Timing(seed=seed))


def first_moment(holds: Callable[[], bool], clock: Clock, until: float) -> float:
    """The first moment from now (to a millisecond) at which `holds`, given that it holds from
    then on: a binary search on the clock."""
    low, high = clock.now, clock.now + until
    while high - low > 0.001:
        clock.now = (low + high) / 2
        if holds():
            high = clock.now
        else:
            low = clock.now
    return high


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_wait_has_a_range_around_its_default_and_says_where_it_comes_from(
    name: str,
) -> None:
    rule = RULES[name]
    assert rule.low is not None and rule.high is not None
    assert rule.low <= rule.seconds <= rule.high
    assert rule.range_source.strip()


def seconds_until_table_is_active(seed: int | None) -> float:
    clock = Clock()
    with weather(seed, clock) as emulator:
        ddb = client(emulator, "dynamodb")
        created = clock.now
        ddb.create_table(  # type: ignore[attr-defined]
            TableName="orders",
            KeySchema=[{"AttributeName": "orderID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def active() -> bool:
            try:
                table = ddb.describe_table(TableName="orders")  # type: ignore[attr-defined]
            except ClientError:  # not described yet (table_described)
                return False
            return bool(table["Table"]["TableStatus"] == "ACTIVE")

        return first_moment(active, clock, RULES["table_creating"].high or 0.0) - created


def test_random_weather_draws_each_seed_its_own_waits_and_replays_a_seed() -> None:
    fixed = seconds_until_table_is_active(None)
    assert fixed == pytest.approx(RULES["table_creating"].seconds, abs=0.002)
    first, again, other = (seconds_until_table_is_active(s) for s in (1, 1, 2))
    assert first == pytest.approx(again, abs=0.002)
    assert abs(first - other) > 0.01
    rule = RULES["table_creating"]
    assert rule.low is not None and rule.high is not None
    assert all(rule.low - 0.002 <= s <= rule.high for s in (first, other))


# -- one draw per event ---------------------------------------------------------------------
def answers_over_time(check: Callable[[], bool], clock: Clock, until: float, step: float) -> list:
    seen = []
    start = clock.now
    while clock.now <= start + until:
        seen.append(check())
        clock.now += step
    return seen


def settles_once(answers: list[bool]) -> bool:
    """No, no, ..., then yes from then on: the deadline was drawn once and kept."""
    return answers == sorted(answers) and answers[-1]


def test_a_new_queue_becomes_usable_once_and_stays_usable_under_random_weather() -> None:
    clock = Clock()
    with weather(7, clock) as emulator:
        sqs = client(emulator, "sqs")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]  # type: ignore[attr-defined]

        def usable() -> bool:
            try:
                sqs.send_message(QueueUrl=url, MessageBody="x")  # type: ignore[attr-defined]
            except ClientError:
                return False
            return True

        answers = answers_over_time(usable, clock, RULES["queue_new"].high or 0.0, 0.05)
    assert not answers[0]
    assert settles_once(answers)


def test_a_new_mapping_is_enabled_once_and_stays_enabled_under_random_weather() -> None:
    clock = Clock()
    with weather(3, clock) as emulator:
        iam, lam, sqs = (client(emulator, s) for s in ("iam", "lambda", "sqs"))
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
        role = iam.create_role(  # type: ignore[attr-defined]
            RoleName="r", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        allow = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
        }
        iam.put_role_policy(  # type: ignore[attr-defined]
            RoleName="r", PolicyName="p", PolicyDocument=json.dumps(allow)
        )
        clock.now += (RULES["iam_propagation"].high or 0.0) + 1
        url = sqs.create_queue(QueueName="q")["QueueUrl"]  # type: ignore[attr-defined]
        arn = sqs.get_queue_attributes(  # type: ignore[attr-defined]
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        lam.create_function(  # type: ignore[attr-defined]
            FunctionName="f",
            Runtime="python3.13",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": zipped("def handler(event, context):\n    return {}\n")},
        )
        clock.now += (RULES["function_pending"].high or 0.0) + 1
        uuid = lam.create_event_source_mapping(  # type: ignore[attr-defined]
            FunctionName="f", EventSourceArn=arn
        )["UUID"]

        def enabled() -> bool:
            state = lam.get_event_source_mapping(UUID=uuid)["State"]  # type: ignore[attr-defined]
            return bool(state == "Enabled")

        answers = answers_over_time(enabled, clock, RULES["mapping_creating"].high or 0.0, 0.5)
    assert not answers[0]
    assert settles_once(answers)


def zipped(source: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


ROLE = "arn:aws:iam::1:role/r"
READS_THE_QUEUE = RoleSnapshot(
    True, {}, ({"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"},)
)


def test_a_role_change_propagates_once_under_random_weather() -> None:
    clock = Clock()
    timing = Timing(seed=11)
    propagation = Propagation(
        lambda arn: READS_THE_QUEUE, lambda key: timing.seconds("iam_propagation", key), clock
    )
    propagation.changed(ROLE)

    def seen() -> bool:
        return propagation.effective(ROLE).exists

    answers = answers_over_time(seen, clock, RULES["iam_propagation"].high or 0.0, 0.5)
    assert not answers[0]
    assert settles_once(answers)


def test_a_role_change_reaches_one_service_before_another_under_random_weather() -> None:
    clock = Clock()
    timing = Timing(seed=5)
    propagation = Propagation(
        lambda arn: READS_THE_QUEUE, lambda key: timing.seconds("iam_propagation", key), clock
    )
    authorizer = Authorizer("1", propagation)
    propagation.changed(ROLE)
    receive = Request("sqs:ReceiveMessage", ("arn:aws:sqs:us-east-1:1:q",))
    by_lambda = first_moment(lambda: authorizer.allows(ROLE, receive, "lambda"), clock, 200)
    clock.now = 1000.0
    by_sqs = first_moment(lambda: authorizer.allows(ROLE, receive), clock, 200)
    assert abs(by_lambda - by_sqs) > 0.01
    clock.now = (by_lambda + by_sqs) / 2
    assert authorizer.allows(ROLE, receive, "lambda") != authorizer.allows(ROLE, receive)
    clock.now = max(by_lambda, by_sqs)
    assert authorizer.allows(ROLE, receive, "lambda") and authorizer.allows(ROLE, receive)
    assert propagation.settled_at() >= max(by_lambda, by_sqs) - 0.001


# -- eventual consistency -------------------------------------------------------------------
def advance(clock: Clock, rule: str) -> None:
    clock.now += RULES[rule].seconds + 0.01


def test_describe_table_right_after_create_table_may_not_find_it_yet() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        ddb = client(emulator, "dynamodb")
        ddb.create_table(  # type: ignore[attr-defined]
            TableName="orders",
            KeySchema=[{"AttributeName": "orderID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        with pytest.raises(ClientError) as not_yet:
            ddb.describe_table(TableName="orders")  # type: ignore[attr-defined]
        assert not_yet.value.response["Error"]["Code"] == "ResourceNotFoundException"
        advance(clock, "table_described")
        table = ddb.describe_table(TableName="orders")["Table"]  # type: ignore[attr-defined]
        assert table["TableStatus"] == "CREATING"


def tagged(emulator: Emulator) -> list[str]:
    tagging = client(emulator, "resourcegroupstaggingapi")
    found = tagging.get_resources(  # type: ignore[attr-defined]
        TagFilters=[{"Key": "pocctl:stack", "Values": ["s"]}]
    )["ResourceTagMappingList"]
    return [r["ResourceARN"] for r in found]


def test_the_tagging_api_lists_a_deleted_resource_for_a_while() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        sns = client(emulator, "sns")
        topic = sns.create_topic(  # type: ignore[attr-defined]
            Name="t", Tags=[{"Key": "pocctl:stack", "Value": "s"}]
        )["TopicArn"]
        other = sns.create_topic(  # type: ignore[attr-defined]
            Name="u", Tags=[{"Key": "pocctl:stack", "Value": "other"}]
        )["TopicArn"]
        sns.delete_topic(TopicArn=topic)  # type: ignore[attr-defined]
        sns.delete_topic(TopicArn=other)  # type: ignore[attr-defined]
        assert sns.list_topics()["Topics"] == []  # type: ignore[attr-defined]
        assert tagged(emulator) == [topic]  # still listed, and only under its own tags
        advance(clock, "tagging_after_delete")
        assert tagged(emulator) == []


def test_list_queues_does_not_list_a_new_queue_at_once() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        sqs = client(emulator, "sqs")
        old = sqs.create_queue(QueueName="old")["QueueUrl"]  # type: ignore[attr-defined]
        advance(clock, "queue_listed")
        new = sqs.create_queue(QueueName="new")["QueueUrl"]  # type: ignore[attr-defined]
        assert sqs.list_queues()["QueueUrls"] == [old]  # type: ignore[attr-defined]
        advance(clock, "queue_listed")
        assert sorted(sqs.list_queues()["QueueUrls"]) == sorted([old, new])  # type: ignore[attr-defined]


def test_a_table_s_tags_read_as_they_were_for_a_few_seconds_after_a_change() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        ddb = client(emulator, "dynamodb")
        arn = ddb.create_table(  # type: ignore[attr-defined]
            TableName="orders",
            KeySchema=[{"AttributeName": "orderID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=[{"Key": "a", "Value": "1"}],
        )["TableDescription"]["TableArn"]
        advance(clock, "table_creating")
        ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])  # type: ignore[attr-defined]
        assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [  # type: ignore[attr-defined]
            {"Key": "a", "Value": "1"}
        ]
        advance(clock, "table_tags")
        tags = ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]  # type: ignore[attr-defined]
        assert sorted(t["Key"] for t in tags) == ["a", "b"]


@pytest.mark.slow  # heavy (tests/cases.py)
def test_down_s_sweep_is_not_fooled_by_what_the_tagging_api_still_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A tagging API that lags by an hour (reported: hours, boto/boto3#3341), at the suite's scale.
    lagging = RULES["tagging_after_delete"]
    monkeypatch.setitem(RULES, "tagging_after_delete", replace(lagging, seconds=3600.0))
    stack = f"t{uuid.uuid4().hex[:8]}"
    runner = CliRunner()
    with Emulator(port=0, timing=TIMING) as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
        up = runner.invoke(cli, ["up", "--stack", stack], catch_exceptions=False)
        assert up.exit_code == 0, up.output
        down = runner.invoke(cli, ["down", "--yes", "--stack", stack], catch_exceptions=False)
        tagging = client(emulator, "resourcegroupstaggingapi")
        still_listed = tagging.get_resources(  # type: ignore[attr-defined]
            TagFilters=[{"Key": "pocctl:stack", "Values": [stack]}]
        )["ResourceTagMappingList"]
    assert down.exit_code == 0, down.output
    assert f"nothing tagged pocctl:stack={stack} is left" in down.output
    assert still_listed  # the tagging API did list the deleted resources


def test_the_tagging_api_lists_a_deleted_queue_after_sqs_has_removed_it() -> None:
    """A queue SQS removes at the end of its deletion (up to 60 s after DeleteQueue) stays in the
    tagging API for a while more, as every deleted resource does."""
    clock = Clock()
    with weather(None, clock) as emulator:
        sqs = client(emulator, "sqs")
        url = sqs.create_queue(  # type: ignore[attr-defined]
            QueueName="q", tags={"pocctl:stack": "s"}
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(  # type: ignore[attr-defined]
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sqs.delete_queue(QueueUrl=url)  # type: ignore[attr-defined]
        advance(clock, "queue_deleting")
        advance(clock, "queue_listed")
        assert sqs.list_queues().get("QueueUrls", []) == []  # type: ignore[attr-defined]
        assert tagged(emulator) == [arn]
        advance(clock, "tagging_after_delete")
        assert tagged(emulator) == []


def test_a_deleted_queue_answers_at_most_60_s_and_its_name_is_refused_at_least_60_s() -> None:
    assert RULES["queue_deleting"].high == 60.0
    assert (RULES["queue_name_reuse"].low or 0.0) >= 60.0
    for seed in range(20):
        timing = Timing(seed=seed)
        assert timing.seconds("queue_deleting", "q") <= 60.0
        assert timing.seconds("queue_name_reuse", "q") >= 60.0


LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def test_iam_may_not_find_a_role_or_its_policy_right_after_they_are_made() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        iam: Any = client(emulator, "iam")
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
        allow = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
        }
        iam.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument=json.dumps(allow))
        with pytest.raises(ClientError) as not_yet:
            iam.get_role(RoleName="r")
        assert not_yet.value.response["Error"]["Code"] == "NoSuchEntity"
        with pytest.raises(ClientError) as policy_not_yet:
            iam.get_role_policy(RoleName="r", PolicyName="p")
        assert policy_not_yet.value.response["Error"]["Code"] == "NoSuchEntity"
        assert iam.list_roles()["Roles"] == []
        advance(clock, "iam_read")
        assert iam.get_role(RoleName="r")["Role"]["RoleName"] == "r"
        assert iam.get_role_policy(RoleName="r", PolicyName="p")["PolicyDocument"] == allow
        assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["r"]


@dataclass(frozen=True)
class ReadsLagPropagation(Timing):
    """Weather random draws may bring: IAM's reads at the top of their range, 10 s, and a
    role's propagation to other services at the bottom of its own, 2 s."""

    def seconds(self, rule: str, key: str = "") -> float:
        ends = {"iam_read": RULES["iam_read"].high, "iam_propagation": RULES["iam_propagation"].low}
        return ends[rule] * self.scale if rule in ends else super().seconds(rule, key)


def test_settled_waits_until_iam_lists_a_new_role() -> None:
    """A test that reads IAM right after a change waits on `settled`, which covers IAM's own
    reads as it covers IAM's propagation, queues' attributes and log lines."""
    with Emulator(port=0, timing=ReadsLagPropagation(scale=0.1)) as emulator:
        iam: Any = client(emulator, "iam")
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
        assert iam.list_roles()["Roles"] == []
        emulator.settled()
        assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["r"]
        assert iam.get_role(RoleName="r")["Role"]["RoleName"] == "r"


def test_up_right_after_a_stopped_up_takes_on_the_role_iam_does_not_show_yet() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        ctx = clocked_context(emulator, "again", clock)
        steps = {step.key: step for step in build_steps(ctx.config)}
        boundary, role = steps["boundary"], steps["writer-role"]
        boundary.apply(ctx, boundary.plan(ctx))
        role.apply(ctx, role.plan(ctx))  # the stopped `up` made the role, then was killed
        again = role.plan(ctx)
        assert again.current is None  # GetRole does not find it yet
        role.apply(ctx, again)  # not: EntityAlreadyExists
        iam: Any = client(emulator, "iam")
        policies = iam.list_role_policies(RoleName=role.name)["PolicyNames"]
        names = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert policies == [role.policy_name]
    assert names == [role.name]


def test_a_function_s_log_lines_reach_cloudwatch_logs_a_while_after_they_are_written() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        logs: Any = client(emulator, "logs")
        group, stream = "/aws/lambda/f", "2026/01/01/[$LATEST]abc"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        line = {"timestamp": int(time.time() * 1000), "message": "START RequestId: 1"}
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[line])

        def read() -> tuple[list[str], list[str]]:
            found = logs.filter_log_events(logGroupName=group)["events"]
            got = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
            return [e["message"] for e in found], [e["message"] for e in got]

        assert read() == ([], [])
        advance(clock, "lambda_logs")
        assert read() == (["START RequestId: 1"], ["START RequestId: 1"])


def test_logs_follow_prints_a_line_that_arrives_after_a_newer_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
        logs: Any = client(emulator, "logs")
        now_ms = int(time.time() * 1000)

        def write(function: str, ms: int, message: str) -> None:
            group = f"/aws/lambda/late-{function}"
            logs.create_log_stream(logGroupName=group, logStreamName=message)
            line = {"timestamp": ms, "message": message}
            logs.put_log_events(logGroupName=group, logStreamName=message, logEvents=[line])

        for function in ("Lambda-1", "Lambda-2"):
            logs.create_log_group(logGroupName=f"/aws/lambda/late-{function}")
        write("Lambda-2", now_ms, "newer, here first")
        clock.now += RULES["lambda_logs"].seconds / 2
        write("Lambda-1", now_ms - 1000, "older, on its way")
        clock.now += RULES["lambda_logs"].seconds / 2 + 0.01  # only the newer line is here
        polls: list[float] = []

        def sleep(seconds: float) -> None:
            polls.append(seconds)
            clock.now += RULES["lambda_logs"].seconds  # the older line arrives
            if len(polls) == 3:
                raise KeyboardInterrupt

        result = CliRunner().invoke(
            cli, ["logs", "--follow", "--stack", "late"], obj=Runtime(sleep=sleep)
        )
    printed = [line.split(" | ", 1)[1] for line in result.output.splitlines() if " | " in line]
    assert printed == ["newer, here first", "older, on its way"], result.output


def test_test_order_waits_for_the_writer_s_error_to_reach_its_log() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        ctx = clocked_context(emulator, "dl", clock)
        report = Engine(ctx, build_steps(ctx.config)).up()
        assert report.ok, [(r.title, r.error) for r in report.results if r.error]
        n = ctx.config.names
        since_ms = int(time.time() * 1000)
        sqs, logs = ctx.client("sqs"), ctx.client("logs")
        dlq = sqs.get_queue_url(QueueName=n.dead_letter_queue)["QueueUrl"]
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"orderID": "o-1"}))
        group = f"/aws/lambda/{n.writer_function}"
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        error = {"timestamp": since_ms + 1, "message": '{"errorType": "KeyError"}'}
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[error])
        stop = storage_blocked(ctx, "o-1", since_ms)
    assert stop is not None
    assert stop[1].endswith(
        f'; last error in {n.writer_function}\'s log: {{"errorType": "KeyError"}}'
    )


def test_a_queue_s_new_visibility_timeout_takes_effect_a_while_after_it_is_set() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        sqs: Any = client(emulator, "sqs")
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        advance(clock, "queue_new")
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
        shown = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
        assert shown["Attributes"] == {"VisibilityTimeout": "0"}  # read back as set

        def received(body: str) -> int:
            """How many receives in a row get the message just sent."""
            sqs.send_message(QueueUrl=url, MessageBody=body)
            return sum(
                any(
                    m["Body"] == body for m in sqs.receive_message(QueueUrl=url).get("Messages", [])
                )
                for _ in range(2)
            )

        assert received("before") == 1  # still hidden for the old 30 s after the first receive
        advance(clock, "queue_attributes")
        assert received("after") == 2  # visible again at once: the new 0 s


@pytest.mark.slow  # heavy (tests/cases.py)
def test_status_right_after_up_repaired_a_queue_attribute_is_healthy() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        ctx = clocked_context(emulator, "repaired", clock)
        steps = build_steps(ctx.config)
        assert Engine(ctx, steps).up().ok
        sqs = ctx.client("sqs")
        url = sqs.get_queue_url(QueueName=ctx.config.names.queue)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "1"})
        advance(clock, "queue_attributes")
        assert not check(ctx, build_steps(ctx.config)).healthy  # drifted
        assert Engine(ctx, build_steps(ctx.config)).up().ok  # repairs it: the change lags
        health = check(ctx, build_steps(ctx.config))
    assert health.healthy, health.problems


def test_up_takes_on_a_mapping_made_after_its_plan_instead_of_failing_on_the_conflict() -> None:
    clock = Clock()
    with weather(None, clock) as emulator:
        ctx = clocked_context(emulator, "twice", clock)
        assert Engine(ctx, build_steps(ctx.config)).up().ok
        lam: Any = ctx.client("lambda")
        step = next(s for s in build_steps(ctx.config) if s.key == "queue-mapping")
        function = ctx.config.names.writer_function
        (made,) = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
        lam.delete_event_source_mapping(UUID=made["UUID"])
        advance(clock, "mapping_deleting")
        stale = step.plan(ctx)  # finds no mapping: will create one
        # ... and another run makes one meanwhile, as a stopped `up` may have.
        lam.create_event_source_mapping(
            FunctionName=function, EventSourceArn=made["EventSourceArn"], Tags=ctx.config.tags
        )
        step.apply(ctx, stale)  # not: ResourceConflictException
        (kept,) = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    assert kept["State"] == "Enabled"
    assert kept["FunctionResponseTypes"] == ["ReportBatchItemFailures"]  # brought in line


def test_create_queue_compares_with_the_attributes_as_set_while_their_effect_lags() -> None:
    """SetQueueAttributes' effect lags (queue_attributes), but what the queue has is what was
    set (GetQueueAttributes says so): CreateQueue of it with those attributes is the same queue,
    with the old ones another (QueueAlreadyExists), as pocctl's `up` relies on."""
    clock = Clock()
    with weather(None, clock) as emulator:
        sqs: Any = client(emulator, "sqs")
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})
        assert (
            sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
            == url
        )
        with pytest.raises(ClientError) as other:
            sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})
        assert "QueueAlreadyExists" in other.value.response["Error"]["Code"]
        # ...and the effect still lags: receives still hide a message for the old 30 s.
        assert emulator.aws.sqs.attributes.pending
