"""`pocctl redrive`: the orders in the dead-letter queue back to the order queue, with SQS's own
dead-letter queue redrive (StartMessageMoveTask), then how many of them were stored.

Redriven messages are new messages with new IDs (SQS Developer Guide, "Learn how to configure a
dead-letter queue redrive"), so Lambda-1 keys each row by the order id the API gave the client,
which the message body carries: an order already stored (its batch failed after its row was
written) is not stored again. Such orders count as stored from the start."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, NoReturn

from pocctl.core.aws import aws_errors, none_if_absent
from pocctl.core.context import Context
from pocctl.core.errors import PocctlError
from pocctl.core.reporting import Why
from pocctl.core.retry import Again, Policy, keep_trying
from pocctl.resources.logs import last_error, last_error_at
from pocctl.resources.queues import Depth, being_deleted, depth, queue_arn, queue_url

STEP = "redrive"
LISTED_WITHIN = 60.0  # seconds for a started move task to appear in ListMessageMoveTasks
# How often the move, then the table, is looked at: SQS reports the move's progress and the
# writer stores what comes in within about a second; the wait for the rows is bounded by --wait.
POLLS = Policy(0.1, 1.5, 1.0)


@dataclass(frozen=True)
class RedrivePlan:
    dead_letter_queue: str
    queue: str
    waiting: int  # orders in the DLQ that a move would take now
    in_flight: int  # received by someone (a look with the console) and not yet back
    # What Lambda-1 last logged as an error since it was last updated (the fix): an error from
    # before would say it still fails when it may not.
    last_error: str | None
    already_stored: int = 0  # of those waiting: orders whose row was written before they failed
    writer_updated: str | None = None  # when Lambda-1 was last updated (its LastModified)
    # When the error was logged. LastModified moves only with the function's own code and
    # settings: a fix `up` made elsewhere (its role's policy, the table) leaves no time in the
    # stack's record (record.py), so the error may be from before that fix.
    last_error_at: str | None = None


@dataclass
class RedriveResult:
    plan: RedrivePlan
    moved: int = 0
    status: str = ""
    failure: str | None = None
    stored: int = 0
    still_queued: int = 0
    back_in_dead_letter_queue: int = 0
    waited: float = 0.0
    error_since_start: str | None = None  # what Lambda-1 logged as an error during the redrive

    @property
    def all_stored(self) -> bool:
        return self.stored >= self.moved

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "plan": asdict(self.plan), "all_stored": self.all_stored}


def plan_redrive(ctx: Context) -> RedrivePlan:
    n = ctx.config.names
    with aws_errors(STEP, "GetQueueAttributes"):
        # A queue deleted moments ago may answer GetQueueUrl and then not exist (SQS API
        # reference, DeleteQueue: requests "might succeed" for 60 s): missing all the same.
        found, target = ctx.together(
            lambda: none_if_absent(lambda: depth(ctx, n.dead_letter_queue)),
            lambda: none_if_absent(lambda: depth(ctx, n.queue)),
        )
    missing = n.dead_letter_queue if found is None else n.queue if target is None else None
    deleted = False
    if found is not None and missing is None:
        # Both answer, but may be gone in seconds: only CreateQueue tells (see being_deleted).
        with aws_errors(STEP, "CreateQueue"):
            dlq_gone, queue_gone = ctx.together(
                lambda: being_deleted(ctx, n.dead_letter_queue),
                lambda: being_deleted(ctx, n.queue),
            )
        missing = n.dead_letter_queue if dlq_gone else n.queue if queue_gone else None
        deleted = missing is not None
    if found is None or missing is not None:
        what = (
            ": it was deleted moments ago, with the orders it held; nothing to redrive"
            if deleted
            else ""
        )
        raise PocctlError(
            f"Stack {ctx.config.stack} has no {missing} in {ctx.config.region}{what}.",
            "Run `pocctl up` first, or check --stack and --region.",
        )
    updated = writer_updated(ctx) if found.total else None
    since_ms = int(updated.timestamp() * 1000) if updated else None
    logged = last_error_at(ctx, n.writer_function, since_ms) if found.total else None
    stored = len(stored_orders(ctx, waiting_orders(ctx, found.waiting))) if found.waiting else 0
    when = updated.isoformat(sep=" ", timespec="seconds") if updated else None
    at = (
        datetime.fromtimestamp(logged[0] / 1000).astimezone().isoformat(sep=" ", timespec="seconds")
        if logged
        else None
    )
    error = logged[1] if logged else None
    return RedrivePlan(
        n.dead_letter_queue, n.queue, found.waiting, found.in_flight, error, stored, when, at
    )


def writer_updated(ctx: Context) -> datetime | None:
    """When Lambda-1's code or settings last changed (Lambda API reference, FunctionConfiguration,
    LastModified: "the date and time that the function was last updated")."""
    with aws_errors(STEP, "GetFunction"):
        found = none_if_absent(
            lambda: ctx.client("lambda").get_function(FunctionName=ctx.config.names.writer_function)
        )
    if found is None:
        return None
    try:
        return datetime.fromisoformat(str(found["Configuration"]["LastModified"]))
    except (KeyError, ValueError):
        return None


def waiting_orders(ctx: Context, count: int) -> set[str]:
    """The order ids in the dead-letter queue's messages, looked at without taking them:
    received with a visibility timeout of 0, they stay visible to SQS's move. (A message queued
    before the API sent an envelope has none: the writer keys it by its new message id.)"""
    sqs = ctx.client("sqs")
    url = queue_url(ctx, ctx.config.names.dead_letter_queue)
    seen: dict[str, str | None] = {}  # message id -> order id
    for _ in range(3 + count // 5):  # receives sample the queue: a few more than count/10
        with aws_errors(STEP, "ReceiveMessage"):
            messages: list[dict[str, Any]] = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", [])
        for message in messages:
            seen[message["MessageId"]] = order_id_in(message["Body"])
        if len(seen) >= count:
            break
    return {order_id for order_id in seen.values() if order_id}


def order_id_in(body: str) -> str | None:
    """The id in the API's envelope (handlers/order_writer.py reads the same)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or set(document) != {"orderID", "receivedAt", "order"}:
        return None
    return str(document["orderID"])


def stored_orders(ctx: Context, order_ids: set[str]) -> set[str]:
    table = ctx.client("dynamodb")
    with aws_errors(STEP, "GetItem"):
        return {
            order_id
            for order_id in order_ids
            if "Item"
            in table.get_item(
                TableName=ctx.config.names.table,
                Key={"orderID": {"S": order_id}},
                ProjectionExpression="orderID",
                ConsistentRead=True,
            )
        }


def latest_task(ctx: Context, source_arn: str) -> dict[str, Any] | None:
    """The source's most recent move task, if any."""
    with aws_errors(STEP, "ListMessageMoveTasks"):
        tasks = ctx.client("sqs").list_message_move_tasks(SourceArn=source_arn, MaxResults=1)
    latest: dict[str, Any] | None = (tasks.get("Results") or [None])[0]
    return latest


def our_task(
    tasks: list[dict[str, Any]], handle: str, previous: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Among the source's tasks (newest first), the one this run started: the one with its handle
    while it runs (ListMessageMoveTasks gives the handle of RUNNING tasks only: SQS API reference,
    ListMessageMoveTasksResultEntry), else one started after the task that was the latest before
    it. None while the list doesn't show it yet: the previous task is never taken for it."""
    for task in tasks:
        if task.get("TaskHandle") == handle:
            return task
    before = int(previous.get("StartedTimestamp", 0)) if previous else None
    newer = [t for t in tasks if before is None or int(t.get("StartedTimestamp", 0)) > before]
    return newer[0] if newer else None


def count_rows(ctx: Context) -> int:
    """Rows in the table (a Scan that counts: fine for a lab's table)."""
    pages = ctx.client("dynamodb").get_paginator("scan")
    with aws_errors(STEP, "Scan"):
        return sum(
            int(page["Count"])
            for page in pages.paginate(TableName=ctx.config.names.table, Select="COUNT")
        )


def waits_on(_: Again) -> NoReturn:
    raise AssertionError("the move is followed until it ends: its policy sets no bound")


def redrive(ctx: Context, plan: RedrivePlan, *, wait: float) -> RedriveResult:
    """Move what the DLQ holds, wait for the move, then up to `wait` seconds for the orders
    to be stored (or to fail again)."""
    n = ctx.config.names
    source, destination = queue_arn(ctx, n.dead_letter_queue), queue_arn(ctx, n.queue)
    result = RedriveResult(plan)
    previous = latest_task(ctx, source)
    if previous is not None and previous.get("Status") == "RUNNING":
        raise PocctlError(
            f"A redrive of {n.dead_letter_queue} is already running "
            f"({previous.get('ApproximateNumberOfMessagesMoved', 0)} of "
            f"{previous.get('ApproximateNumberOfMessagesToMove', '?')} moved).",
            "SQS runs one at a time per queue: wait for it, then run `pocctl redrive` again.",
        )
    rows_before = count_rows(ctx)
    started = ctx.clock()
    started_ms = int(time.time() * 1000)
    sqs = ctx.client("sqs")
    with aws_errors(STEP, "StartMessageMoveTask"):
        handle = sqs.start_message_move_task(SourceArn=source, DestinationArn=destination)[
            "TaskHandle"
        ]
    moving = Why(
        f"SQS to move {plan.waiting} order(s) from {n.dead_letter_queue} to {n.queue}",
        "a message move task runs asynchronously, at a rate SQS picks from the backlog "
        "(SQS API reference, StartMessageMoveTask); AWS gives no figure for how long",
    )

    def moved() -> dict[str, Any] | Again:
        """The task once it has ended; its progress is read from ListMessageMoveTasks."""
        with aws_errors(STEP, "ListMessageMoveTasks"):
            tasks = sqs.list_message_move_tasks(SourceArn=source, MaxResults=10)["Results"]
        task = our_task(tasks, handle, previous)
        if task is None:  # not listed yet
            if ctx.clock() - started > LISTED_WITHIN:
                raise PocctlError(
                    f"SQS started moving {n.dead_letter_queue}, but its task was not listed "
                    f"within {LISTED_WITHIN:.0f}s.",
                    "Run `pocctl status` to see where the orders are.",
                )
            return Again()
        return Again() if task["Status"] == "RUNNING" else task

    task = keep_trying(ctx, moved, POLLS, gave_up=waits_on, why=moving)
    result.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
    result.status = str(task["Status"])
    result.failure = task.get("FailureReason")
    if result.status == "FAILED":
        raise PocctlError(
            f"SQS's move of {n.dead_letter_queue} failed after {result.moved} message(s): "
            f"{result.failure}.",
            "Run `pocctl status` to see where the orders are.",
        )
    storing = Why(
        f"the {result.moved} redriven order(s) to be stored",
        f"{n.writer_function} takes them from {n.queue} into {n.table}",
        limit=wait,
    )

    def all_stored() -> bool | Again:
        result.stored = count_rows(ctx) - rows_before + plan.already_stored
        queued: Depth | None = depth(ctx, n.queue)
        back: Depth | None = depth(ctx, n.dead_letter_queue)
        result.still_queued = queued.total if queued else 0
        result.back_in_dead_letter_queue = back.total if back else 0
        return True if result.all_stored else Again()

    keep_trying(ctx, all_stored, replace(POLLS, within=wait), gave_up=lambda _: False, why=storing)
    result.waited = ctx.clock() - started
    if not result.all_stored:
        result.error_since_start = last_error(ctx, n.writer_function, started_ms)
    return result
