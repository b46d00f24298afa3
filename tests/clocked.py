"""`pocctl local` on AWS's clock moved by the test, so a test says "1.5 s later" without waiting,
and the clients that call it as a user would (no retries: a refusal shows as it is)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import boto3
import pytest
from botocore.config import Config as BotoConfig

from pocctl.local.aws.timing import RULES, Timing
from pocctl.local.emulator import Emulator

NO_RETRIES = BotoConfig(retries={"mode": "standard", "max_attempts": 1})
START = 1000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, rule: str, extra: float = 0.01) -> None:
        """Past what AWS's `rule` takes (timing.py's fixed duration)."""
        self.now += RULES[rule].seconds + extra

    def sleep(self, seconds: float) -> None:
        """A pause of the code under test: AWS's time moves on by as much."""
        self.now += seconds


@contextmanager
def clocked_emulator(clock: Clock, timing: Timing | None = None) -> Iterator[Emulator]:
    """A running emulator on any free port whose AWS durations are measured on `clock`."""
    with Emulator(
        port=0, timing=timing if timing is not None else Timing(), clock=clock
    ) as running:
        yield running


def client(emulator: Emulator, service: str, key: dict[str, Any] | None = None) -> Any:
    """The emulator's own keys (not judged), or an IAM user's access `key` (judged as it)."""
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id=key["AccessKeyId"] if key else "user",
        aws_secret_access_key=key["SecretAccessKey"] if key else "user",
        config=NO_RETRIES,
    )


def fixtures(
    scope: Literal["function", "module"] = "function",
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The `clock` and `emulator` fixtures, for a test module to take as its own:
    `clock, emulator = clocked.fixtures()` (scope "module": one emulator for the module)."""

    @pytest.fixture(scope=scope)
    def clock() -> Clock:
        return Clock()

    @pytest.fixture(scope=scope)
    def emulator(clock: Clock) -> Iterator[Emulator]:
        with clocked_emulator(clock) as running:
            yield running

    return clock, emulator
