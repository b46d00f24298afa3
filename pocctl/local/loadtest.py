"""Send many orders through a deployed stack and account for every one of them.

Used by the fault-injection test (a small count) and `bench/load_with_faults.py` (1,000 orders).
An order must end stored or in the dead-letter queue, never both and never neither; no order may
be stored twice; every stored order is notified exactly once, or sits in a stream batch that was
sent to the failure queue.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pocctl.core.context import Context
from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.emulator import MAIL_PATH
from pocctl.ops.redrive import order_id_in
from pocctl.ops.smoke import http_post
from pocctl.pipeline.stack import read_outputs


@dataclass
class LoadReport:
    sent: int = 0
    accepted: list[str] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)
    dead: set[str] = field(default_factory=set)
    notified: list[str] = field(default_factory=list)
    failed_stream: set[str] = field(default_factory=set)
    post_seconds: float = 0.0
    settle_seconds: float = 0.0
    # From the first POST until every order was stored (or dead-lettered) and announced.
    done_seconds: float = 0.0

    def problems(self) -> list[str]:
        accepted = set(self.accepted)
        found = []
        if len(accepted) != len(self.accepted):
            found.append("the API gave the same order id twice")
        if lost := accepted - self.stored - self.dead:
            found.append(f"{len(lost)} order(s) neither stored nor in the DLQ: {sorted(lost)[:5]}")
        if both := self.stored & self.dead:
            found.append(f"{len(both)} order(s) both stored and in the DLQ")
        if strangers := self.stored - accepted:
            found.append(f"{len(strangers)} stored order(s) that the API never accepted")
        if len(set(self.notified)) != len(self.notified):
            found.append(
                f"{len(self.notified) - len(set(self.notified))} duplicate notification(s)"
            )
        if unannounced := self.stored - set(self.notified) - self.failed_stream:
            found.append(f"{len(unannounced)} stored order(s) never notified")
        if ghosts := set(self.notified) - self.stored:
            found.append(f"{len(ghosts)} notification(s) for orders that are not stored")
        return found

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "accepted": len(self.accepted),
            "refused": self.refused,
            "stored": len(self.stored),
            "dead_lettered": len(self.dead),
            "notified": len(self.notified),
            "in_failed_stream_batches": len(self.failed_stream),
            "post_seconds": round(self.post_seconds, 2),
            "settle_seconds": round(self.settle_seconds, 2),
            "done_seconds": round(self.done_seconds, 2),
            "problems": self.problems(),
        }


def send(url: str, count: int, concurrency: int, report: LoadReport) -> None:
    def one(i: int) -> tuple[int, str]:
        return http_post(url, json.dumps({"item": f"load item {i}", "customerID": str(i)}).encode())

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        answers = list(pool.map(one, range(count)))
    report.post_seconds = time.monotonic() - started
    report.sent = count
    for status, body in answers:
        if status == 200:
            report.accepted.append(json.loads(body)["orderID"])
        else:
            report.refused[status] = report.refused.get(status, 0) + 1


def stored_ids(ctx: Context) -> set[str]:
    ids: set[str] = set()
    paginator = ctx.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(
        TableName=ctx.config.names.table, ProjectionExpression="orderID", ConsistentRead=True
    ):
        ids.update(item["orderID"]["S"] for item in page["Items"])
    return ids


def drain(ctx: Context, queue_name: str) -> list[dict[str, Any]]:
    """Every message in a queue, kept in flight so each is read once."""
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600
    ).get("Messages"):
        found.extend(batch)
    return found


def depth(ctx: Context, queue_name: str) -> int:
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def mails(endpoint_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(endpoint_url + MAIL_PATH, timeout=10) as response:
        found: list[dict[str, Any]] = json.loads(response.read())
    return found


def mailed_ids(endpoint_url: str, address: str, topic: str) -> list[str]:
    """The order ids the order topic mailed to `address` (not the alarm topic's mails)."""
    ids = []
    for message in mails(endpoint_url):
        from_topic = str(message.get("topic", "")).rsplit(":", 1)[-1] == topic
        if message["to"] == address and from_topic and not message.get("confirm_url"):
            ids.append(json.loads(message["message"].splitlines()[-1])["orderID"])
    return ids


def stream_orders_by_sequence(ctx: Context) -> dict[str, str]:
    streams = ctx.client("dynamodbstreams")
    found: dict[str, str] = {}
    for stream in streams.list_streams(TableName=ctx.config.names.table)["Streams"]:
        description = streams.describe_stream(StreamArn=stream["StreamArn"])["StreamDescription"]
        for shard in description["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=stream["StreamArn"],
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                for record in page["Records"]:
                    keys = record["dynamodb"]["Keys"]
                    found[record["dynamodb"]["SequenceNumber"]] = keys["orderID"]["S"]
                if not page["Records"]:
                    break
                iterator = page.get("NextShardIterator")
    return found


def failed_stream_ids(ctx: Context) -> set[str]:
    batches = [json.loads(m["Body"]) for m in drain(ctx, ctx.config.names.stream_failure_queue)]
    if not batches:
        return set()
    by_sequence = stream_orders_by_sequence(ctx)
    ids: set[str] = set()
    for batch in batches:
        info = batch["DDBStreamBatchInfo"]
        low, high = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        ids.update(i for s, i in by_sequence.items() if low <= int(s) <= high)
    return ids


def wait(check: Callable[[], bool], deadline: float) -> None:
    while not check() and time.monotonic() < deadline:
        time.sleep(0.5)


def run_load(
    ctx: Context,
    *,
    count: int,
    concurrency: int = 16,
    email: str,
    timeout: float = 120.0,
) -> LoadReport:
    """Post `count` orders, wait for the pipeline to settle, and account for each."""
    report = LoadReport()
    names = ctx.config.names
    endpoint = ctx.config.endpoint_url or ""
    follow_confirmation_links(mails(endpoint), email)  # as the address's owner would
    send(read_outputs(ctx)["order_url"], count, concurrency, report)
    started = time.monotonic()
    deadline = started + timeout
    expected = len(report.accepted)

    def settled() -> bool:
        return len(stored_ids(ctx)) + depth(ctx, names.dead_letter_queue) >= expected

    wait(settled, deadline)
    stored = stored_ids(ctx)

    def announced() -> bool:
        return (
            len(set(mailed_ids(endpoint, email, names.topic)))
            + depth(ctx, names.stream_failure_queue)
            >= len(stored)
            and depth(ctx, names.queue) == 0
        )

    wait(announced, deadline)
    report.done_seconds = report.post_seconds + time.monotonic() - started
    time.sleep(1.0)  # let a late duplicate show itself
    report.settle_seconds = time.monotonic() - started
    report.stored = stored_ids(ctx)
    report.dead = {
        order_id_in(m["Body"]) or m["MessageId"] for m in drain(ctx, names.dead_letter_queue)
    }
    report.notified = mailed_ids(endpoint, email, names.topic)
    report.failed_stream = failed_stream_ids(ctx)
    return report
