"""Orders under injected faults: every order ends stored or dead-lettered, none twice."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from pocctl.core.config import Tuning
from pocctl.core.context import Context
from pocctl.local.emulator import Emulator
from pocctl.local.functions import Faults
from pocctl.local.loadtest import run_load

from .emulated import TIMING, up_local

pytestmark = pytest.mark.slow  # load: 120 orders under injected faults

EMAIL = "load@example.com"


@dataclass
class Interrupted:
    """What the notifier's log says may have published without marking: orders named by a
    PublishBatch that failed as a whole or a mark that failed, and invocations cut short (a
    timeout not injected, as injected ones come before the handler runs; a worker that exited):
    their log ends where they were cut, and does not name the orders of a PublishBatch then
    under way."""

    orders: set[str] = field(default_factory=set)
    cut_short: int = 0


def interrupted_after_publishing(ctx: Context, function: str) -> Interrupted:
    found = Interrupted()
    pages = ctx.client("logs").get_paginator("filter_log_events")
    for page in pages.paginate(logGroupName=f"/aws/lambda/{function}"):
        for event in page["events"]:
            try:
                line = json.loads(event["message"])
            except ValueError:
                continue
            if not isinstance(line, dict):
                continue
            error = str(line.get("errorMessage", ""))
            if (error.startswith("Task timed out") and "(injected)" not in error) or line.get(
                "errorType"
            ) == "Runtime.ExitError":
                found.cut_short += 1
            elif line.get("event") == "notify_failed" and "orderIDs" in line:
                found.orders.update(line["orderIDs"])
            elif line.get("event") == "mark_failed":
                found.orders.add(line["keys"]["orderID"]["S"])
    return found


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

    problems = report.problems()
    faulty.settled()  # the log lines written so far can be read
    interrupted = interrupted_after_publishing(ctx, "faulty-Lambda-2")
    twice = {order for order in report.notified if report.notified.count(order) > 1}
    if twice:
        # The notifier's documented limit: a crash between publishing an order and marking it
        # notified may notify it twice, on AWS too (a 2 s timeout reached on a busy machine, a
        # publish whose answer was lost). Only the orders such a crash may have left unmarked:
        # those its log names, and at most a stream batch for each invocation cut short.
        unexplained = twice - interrupted.orders
        batch = ctx.config.tuning.stream_batch_size
        assert len(unexplained) <= interrupted.cut_short * batch, (unexplained, interrupted)
        warnings.warn(
            f"notified twice after a crash: {sorted(twice)} ({interrupted})", stacklevel=1
        )
        problems = [p for p in problems if not p.endswith("duplicate notification(s)")]
    assert problems == [], report.summary()
    assert len(report.accepted) == 120
    assert len(report.stored) + len(report.dead) == 120
    assert len(report.stored) >= 110  # most get through: a DLQ needs 5 faults in a row
    log = ctx.client("logs").filter_log_events(
        logGroupName="/aws/lambda/faulty-Lambda-1", filterPattern="injected"
    )
    assert log["events"], "faults were injected"
