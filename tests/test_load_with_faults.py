"""Orders under injected faults: every order ends stored or dead-lettered, none twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pocctl.core.config import Tuning
from pocctl.local.emulator import Emulator
from pocctl.local.functions import Faults
from pocctl.local.loadtest import run_load

from .emulated import TIMING, up_local

pytestmark = pytest.mark.slow  # load: 120 orders under injected faults

EMAIL = "load@example.com"


@pytest.fixture(scope="module")
def faulty() -> Iterator[Emulator]:
    with Emulator(
        port=0, timing=TIMING, faults=Faults(fail_rate=0.15, timeout_rate=0.05, seed=7)
    ) as running:
        yield running


def test_orders_under_faults_are_stored_or_dead_lettered_and_notified_once(
    faulty: Emulator,
) -> None:
    ctx = up_local(
        faulty, "faulty", email=EMAIL, tuning=Tuning(throttle_rate=1000, throttle_burst=1000)
    )
    # Small timeouts in the test, not in the product: retries come within seconds.
    lam, sqs = ctx.client("lambda"), ctx.client("sqs")
    for function in ("faulty-Lambda-1", "faulty-Lambda-2"):
        lam.update_function_configuration(FunctionName=function, Timeout=2)
    url = sqs.get_queue_url(QueueName="faulty-Queue")["QueueUrl"]
    # 6x the function timeout, as `up` does.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "12"})
    faulty.settled()  # SQS applies a changed attribute a while later

    report = run_load(ctx, count=120, concurrency=12, email=EMAIL, timeout=150)

    assert report.problems() == [], report.summary()
    assert len(report.accepted) == 120
    assert len(report.stored) + len(report.dead) == 120
    assert len(report.stored) >= 110  # most get through: a DLQ needs 5 faults in a row
    log = ctx.client("logs").filter_log_events(
        logGroupName="/aws/lambda/faulty-Lambda-1", filterPattern="injected"
    )
    assert log["events"], "faults were injected"
