"""AWS's weather: every wait has a range, `--aws-timing random` draws from it once per event.

Each test runs AWS's clock by hand (an injected clock), so "the moment a table turns ACTIVE" is
a number the test finds, not a time it waits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from pocctl.local.aws.timing import RULES, Timing
from pocctl.local.emulator import Emulator
from pocctl.local.iam import Authorizer, Propagation, RoleSnapshot
from pocctl.local.policy import Request

NO_RETRIES = BotoConfig(retries={"mode": "standard", "max_attempts": 1})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def weather(seed: int | None, clock: Clock) -> Iterator[Emulator]:
    with Emulator(port=0, timing=Timing(seed=seed), clock=clock) as running:
        yield running


def client(emulator: Emulator, service: str) -> object:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id="user",
        aws_secret_access_key="user",
        config=NO_RETRIES,
    )


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
        lambda arn: READS_THE_QUEUE, lambda: timing.seconds("iam_propagation"), clock
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
        lambda arn: READS_THE_QUEUE, lambda: timing.seconds("iam_propagation"), clock
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
