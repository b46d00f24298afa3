"""The loops that wait outside the retry helper's callers (redrive's two waits, a read made again
when its resource went away part way, `up --watch`, `logs --follow`): each pause is a span of its
loop (bench/critical.py reads them), at the intervals its policy says."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from pocctl.cli.logs import FOLLOW_INTERVAL, followed
from pocctl.code.bundle import bundled_dir
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.errors import StepError
from pocctl.core.reporting import RecordingReporter
from pocctl.core.session import new_session
from pocctl.ops.redrive import RedrivePlan, redrive
from pocctl.ops.watch import POLL, SETTLE, Update, watch
from pocctl.pipeline.stack import build_steps
from pocctl.resources.base import read_whole
from pocctl.resources.functions import FunctionStep

from .conftest import REGION
from .test_retry import Clock

Spans = list[tuple[float, int | None]]


def pauses(ctx: Context) -> Spans:
    return [(s.seconds, s.loop) for s in ctx.calls.spans if s.kind == "pause"]


def seconds(spans: Spans) -> list[float]:
    return [round(seconds, 6) for seconds, _ in spans]


def loops(spans: Spans) -> list[int | None]:
    """The loop of each pause, in order, each loop once."""
    return list(dict.fromkeys(loop for _, loop in spans))


def clocked(clock: Clock, sleep: Callable[[float], None] | None = None, **config: Any) -> Context:
    return Context(
        Config(region=REGION, **config),
        RecordingReporter(),
        session=new_session(region_name=REGION),
        sleep=sleep or clock.sleep,
        clock=clock,
    )


def answering(ctx: Context, operation: str, *answers: dict[str, Any]) -> None:
    """Every call of `operation` answered as AWS would, with each of `answers` in turn (the last
    one again after): what moto does not act out."""
    left = list(answers)

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        parsed = left.pop(0) if len(left) > 1 else left[0]
        return AWSResponse("https://stub.invalid", 200, {}, None), parsed

    ctx.session.events.register(f"before-call.{operation}", answer)


def test_a_read_made_again_pauses_a_tenth_then_twice_as_long_each_time(aws: None) -> None:
    clock = Clock()
    ctx = clocked(clock)
    gone = StepError("table", "ListTagsOfResource", "ResourceNotFoundException", "gone")
    answers: list[StepError | str] = [gone, gone, "as it now is"]

    def read() -> str:
        answer = answers.pop(0)
        if isinstance(answer, StepError):
            raise answer
        return answer

    assert read_whole(ctx, read) == "as it now is"
    assert seconds(pauses(ctx)) == [0.1, 0.2] and len(loops(pauses(ctx))) == 1

    reads: list[int] = []

    def always_gone() -> str:
        reads.append(1)
        raise gone

    with pytest.raises(StepError, match="gone"):
        read_whole(ctx, always_gone)
    assert len(reads) == 4  # an error that stays after four reads is a real one
    second = pauses(ctx)[2:]
    assert seconds(second) == [0.1, 0.2, 0.4] and len(loops(second)) == 1


def test_redrive_looks_at_the_move_then_at_the_table_with_growing_pauses(aws: None) -> None:
    clock = Clock()
    ctx = clocked(clock)
    n = ctx.config.names
    source = ctx.arn("sqs", n.dead_letter_queue)
    task = {"TaskHandle": "ours", "SourceArn": source, "StartedTimestamp": 1}
    running = {**task, "Status": "RUNNING", "ApproximateNumberOfMessagesMoved": 1}
    done = {"SourceArn": source, "StartedTimestamp": 1, "Status": "COMPLETED"}
    answering(ctx, "sqs.StartMessageMoveTask", {"TaskHandle": "ours"})
    answering(
        ctx,
        "sqs.ListMessageMoveTasks",
        {"Results": []},  # none before this redrive
        {"Results": []},  # not listed yet
        {"Results": [running]},
        {"Results": [running]},
        {"Results": [{**done, "ApproximateNumberOfMessagesMoved": 2}]},
    )
    sqs = ctx.client("sqs")  # made after the answers are registered on the session
    for name in (n.dead_letter_queue, n.queue):
        sqs.create_queue(QueueName=name)
    ctx.client("dynamodb").create_table(
        TableName=n.table,
        KeySchema=[{"AttributeName": "orderID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    plan = RedrivePlan(n.dead_letter_queue, n.queue, 2, 0, None)
    result = redrive(ctx, plan, wait=3.0)  # nothing takes the orders from the queue here
    assert result.moved == 2 and result.status == "COMPLETED" and result.stored == 0
    spans = pauses(ctx)
    move, table = loops(spans)
    assert seconds([s for s in spans if s[1] == move]) == [0.1, 0.15, 0.225]
    # The table: until --wait's 3 s are spent, each pause half as long again, at most 1 s.
    assert seconds([s for s in spans if s[1] == table]) == [
        0.1,
        0.15,
        0.225,
        0.3375,
        0.50625,
        0.759375,
        1.0,
    ]


def test_up_watch_pauses_between_looks_and_while_a_save_settles(aws: None, tmp_path: Path) -> None:
    handlers = tmp_path / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    clock = Clock()
    looks: list[float] = []

    def sleep(seconds: float) -> None:
        looks.append(seconds)
        clock.sleep(seconds)
        if len(looks) == 2:  # a save that does not compile: nothing is uploaded
            (handlers / "order_writer.py").write_text("def handler(event, context):\n  (\n")

    ctx = clocked(clock, sleep, handlers=str(handlers))
    answering(ctx, "lambda.GetFunction", {"Configuration": {"CodeSha256": "as deployed"}})
    functions = [s for s in build_steps(ctx.config) if isinstance(s, FunctionStep)]
    updates: list[Update] = []
    watch(ctx, functions, updates.append, stop=lambda: bool(updates))
    assert len(updates) == 1 and updates[0].changed == ["order_writer.py"]
    assert updates[0].error is not None and not updates[0].updated
    spans = pauses(ctx)
    assert seconds(spans) == [POLL, POLL, SETTLE] and len(loops(spans)) == 1


def test_logs_follow_reads_again_every_second_and_each_pause_is_a_span(aws: None) -> None:
    clock = Clock()
    polls: list[float] = []
    logs = new_session(region_name=REGION).client("logs")
    group = "/aws/lambda/POC-Lambda-1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        clock.sleep(seconds)
        if len(polls) == 1:
            event = {"timestamp": int(time.time() * 1000), "message": "arrived"}
            logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[event])
        elif len(polls) == 3:
            raise KeyboardInterrupt

    ctx = clocked(clock, sleep)
    batches: list[list[str]] = []
    start_ms = int((time.time() - 60) * 1000)
    with pytest.raises(KeyboardInterrupt):
        for fresh in followed(ctx, ["POC-Lambda-1"], start_ms, None, []):
            batches.append([line.message for line in fresh])
    assert batches == [["arrived"], []]  # once, though read again after it came
    spans = pauses(ctx)
    assert seconds(spans) == [FOLLOW_INTERVAL] * 2 and len(loops(spans)) == 1
