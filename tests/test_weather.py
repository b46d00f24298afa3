"""AWS's weather: every wait has a range, `--aws-timing random` draws from it once per event.

Each test runs AWS's clock by hand (an injected clock), so "the moment a table turns ACTIVE" is
a number the test finds, not a time it waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import boto3
import pytest
from botocore.config import Config as BotoConfig

from pocctl.local.aws.timing import RULES, Timing
from pocctl.local.emulator import Emulator

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
            table = ddb.describe_table(TableName="orders")["Table"]  # type: ignore[attr-defined]
            return bool(table["TableStatus"] == "ACTIVE")

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
