"""What the soak reads and does to the account beside pocctl: plain boto3 against the emulator.

Its reads are independent of pocctl's own lookups: the orders from the table's stream, the mail
from the emulator's outbox, the account's inventory from each service's list calls (not the
tagging API, not pocctl's sweep).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from soak_checks import Found  # bench/ is the script's own directory

from pocctl.local.aws.timing import RULES, Timing
from pocctl.local.emulator import Emulator

T = TypeVar("T")
POLL = 0.1  # seconds between looks at a condition with a deadline
# Real seconds beyond AWS's longest deletion for the inventory to be empty: a 2-core machine
# shared with other work answers slowly.
SETTLE_SLACK = 15.0


@dataclass
class Orders:
    inserts: Counter[str] = field(default_factory=Counter)
    notified: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)


@dataclass
class WriterLines:
    stored: Counter[str] = field(default_factory=Counter)
    already: Counter[str] = field(default_factory=Counter)


class World:
    def __init__(self, emulator: Emulator, stack: str) -> None:
        self.emulator, self.stack = emulator, stack
        self.session = boto3.Session(
            aws_access_key_id="pocctl-local",
            aws_secret_access_key="pocctl-local",
            region_name="us-east-1",
        )
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, endpoint_url=self.emulator.endpoint_url
            )
        return self._clients[service]

    @property
    def table(self) -> str:
        return f"{self.stack}-orders"

    def queue_url(self, name: str) -> str:
        return str(self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])

    # -- orders -------------------------------------------------------------------------------
    def stream_records(self) -> list[dict[str, Any]]:
        streams = self.client("dynamodbstreams")
        records: list[dict[str, Any]] = []
        for stream in streams.list_streams(TableName=self.table)["Streams"]:
            arn = stream["StreamArn"]
            shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
            for shard in shards:
                iterator = streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                while iterator:
                    page = streams.get_records(ShardIterator=iterator, Limit=1000)
                    records.extend({**r, "shard": shard["ShardId"]} for r in page["Records"])
                    if not page["Records"]:
                        break
                    iterator = page.get("NextShardIterator")
        return records

    def notified(self) -> set[str]:
        found = set()
        for mail in list(self.emulator.outbox.messages):
            if mail.get("confirm_url"):
                continue
            try:
                found.add(json.loads(str(mail["message"]).splitlines()[-1])["orderID"])
            except (ValueError, KeyError, IndexError, TypeError):
                continue
        return found

    def failure_records(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        url = self.queue_url(f"{self.stack}-Stream-Failures")
        found: dict[str, dict[str, Any]] = {}
        for _ in range(5):  # a look at what is there, leaving it visible
            for m in sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", []):
                found[m["MessageId"]] = json.loads(m["Body"])
        return list(found.values())

    def acknowledge_failures(self) -> None:
        """The operator has read the failed batches: they leave the failure queue."""
        sqs = self.client("sqs")
        url = self.queue_url(f"{self.stack}-Stream-Failures")
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages"):
            for m in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def orders(self, denied: bool) -> Orders:
        found = Orders()
        sequences: dict[tuple[str, int], str] = {}
        for record in self.stream_records():
            order = record["dynamodb"]["Keys"]["orderID"]["S"]
            if record["eventName"] == "INSERT":
                found.inserts[order] += 1
            sequences[(record["shard"], int(record["dynamodb"]["SequenceNumber"]))] = order
        found.notified = self.notified()
        if denied:
            for batch in self.failure_records():
                info = batch["DDBStreamBatchInfo"]
                low, high = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
                found.failed.update(
                    o
                    for (shard, n), o in sequences.items()
                    if shard == info["shardId"] and low <= n <= high
                )
        return found

    def visibility_timeout(self) -> float:
        """How long SQS keeps a received order from the writer again (SQS Developer Guide,
        "Amazon SQS visibility timeout"): an order whose first delivery failed comes back after
        it, so waiting for the orders must outlast it."""
        url = self.queue_url(f"{self.stack}-Queue")
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        return float(attributes["VisibilityTimeout"])

    def why_not_stored(self) -> str:
        """What the queues and the writer's log say, for an order that was not stored."""
        sqs, found = self.client("sqs"), []
        for queue in (f"{self.stack}-Queue", f"{self.stack}-Queue-DLQ"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.queue_url(queue), AttributeNames=["All"]
            )["Attributes"]
            found.append(
                f"{queue}: {attributes.get('ApproximateNumberOfMessages')} visible, "
                f"{attributes.get('ApproximateNumberOfMessagesNotVisible')} in flight"
            )
        try:
            events = self.client("logs").filter_log_events(
                logGroupName=f"/aws/lambda/{self.stack}-Lambda-1"
            )["events"]
        except Exception as exc:  # the diagnosis must not hide the broken invariant
            return "; ".join([*found, f"writer's log unreadable: {exc}"])
        errors = [
            e["message"].strip()[:300]
            for e in events
            if "rror" in e["message"] or "timed out" in e["message"]
        ]
        return "; ".join([*found, f"writer's last errors: {errors[-3:]}"])

    def orders_settled(self, accepted: list[str], denied: set[str], deadline: float) -> Orders:
        """The orders once each accepted one is stored and notified (or, one of `denied`, in a
        failed batch), or as they are at the deadline."""

        def done(found: Orders) -> bool:
            def arrived(i: str) -> bool:
                return i in found.notified or (i in denied and i in found.failed)

            return all(found.inserts[i] and arrived(i) for i in accepted)

        return until(lambda: self.orders(bool(denied)), done, deadline)

    def writer_lines(self) -> WriterLines:
        """What the writer logged for each order: stored, or already stored (a second delivery
        its conditional put turned into a no-op)."""
        found = WriterLines()
        try:
            events = listed(
                self.client("logs"),
                "filter_log_events",
                "events",
                logGroupName=f"/aws/lambda/{self.stack}-Lambda-1",
            )
        except self.client("logs").exceptions.ResourceNotFoundException:
            return found
        for event in events:
            message = str(event["message"])
            try:
                line = json.loads(message[message.index("{") :])
            except ValueError:
                continue
            if not isinstance(line, dict) or "orderID" not in line:
                continue
            if line.get("event") == "order_stored":
                found.stored[str(line["orderID"])] += 1
            elif line.get("event") == "order_already_stored":
                found.already[str(line["orderID"])] += 1
        return found

    def writer_lines_settled(self, accepted: list[str], deadline: float) -> WriterLines:
        """The writer's lines once each accepted order has its `order_stored` line (CloudWatch
        Logs shows a function's lines after a delay), or as they are at the deadline."""
        return until(
            self.writer_lines, lambda found: all(found.stored[i] for i in accepted), deadline
        )


def until(read: Callable[[], T], done: Callable[[T], bool], deadline: float) -> T:
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(POLL)


# -- the inventory -----------------------------------------------------------------------------
# The kinds as pocctl's steps name them (`Step.kind`), so what `down` claims is left compares
# with what is there by (kind, name).
KINDS = (
    "IAM role",
    "IAM permissions boundary",
    "DynamoDB table",
    "SQS queue",
    "SNS topic",
    "email subscription",
    "SNS subscription",
    "Lambda function",
    "event source mapping",
    "log group",
    "REST API",
)


def listed(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    """Every page of a list call."""
    return [
        item
        for page in client.get_paginator(operation).paginate(**kwargs)
        for item in page.get(key, [])
    ]


def inventory(world: World) -> list[Found]:
    """Everything of the stack the account's own list calls show, every page of them."""
    c = world.client
    stack = world.stack

    def mine(name: str) -> bool:
        return name.startswith(f"{stack}-") or f"/{stack}-" in name or f":{stack}-" in name

    found = [Found("IAM role", r["RoleName"]) for r in listed(c("iam"), "list_roles", "Roles")]
    # The stack's permissions boundary (`*-Roles-Boundary`) is a customer managed policy.
    found += [
        Found("IAM permissions boundary", p["PolicyName"], (p["Arn"],))
        for p in listed(c("iam"), "list_policies", "Policies", Scope="Local")
    ]
    found += [
        Found("DynamoDB table", t) for t in listed(c("dynamodb"), "list_tables", "TableNames")
    ]
    found += [
        Found("SQS queue", u.rsplit("/", 1)[1])
        for u in listed(c("sqs"), "list_queues", "QueueUrls")
    ]
    found += [
        Found("SNS topic", t["TopicArn"].rsplit(":", 1)[1], (t["TopicArn"],))
        for t in listed(c("sns"), "list_topics", "Topics")
    ]
    for sub in listed(c("sns"), "list_subscriptions", "Subscriptions"):
        if not mine(sub["TopicArn"]):
            continue
        if sub["Protocol"] == "email":
            found.append(Found("email subscription", sub["Endpoint"], (sub["SubscriptionArn"],)))
        else:
            found.append(Found("SNS subscription", sub["SubscriptionArn"], (sub["Endpoint"],)))
    found += [
        Found("Lambda function", f["FunctionName"])
        for f in listed(c("lambda"), "list_functions", "Functions")
    ]
    for m in listed(c("lambda"), "list_event_source_mappings", "EventSourceMappings"):
        function = m["FunctionArn"].rsplit(":", 1)[1]
        source = m.get("EventSourceArn", "")
        table = source.split("table/", 1)[1].split("/", 1)[0] if "table/" in source else ""
        source_name = f"{table} stream" if table else source.rsplit(":", 1)[-1]
        found.append(
            Found(
                "event source mapping",
                f"{m['UUID']} ({function})",
                (f"{source_name} -> {function}", function),
            )
        )
    found += [
        Found("log group", g["logGroupName"])
        for g in listed(c("logs"), "describe_log_groups", "logGroups")
    ]
    found += [
        Found("REST API", a["name"], (a["id"],))
        for a in listed(c("apigateway"), "get_rest_apis", "items")
    ]
    ours = [f for f in found if mine(f.name) or (f.kind == "email subscription")]
    return sorted(ours, key=lambda f: (f.kind, f.name))


def inventory_when_settled(world: World, timing: Timing) -> list[Found]:
    """The inventory once AWS has finished what it was deleting, or as it is at the deadline.

    What `down` deletes stays listed while AWS deletes it: a queue for up to 60 s (SQS API
    reference, DeleteQueue: "The deletion process takes up to 60 seconds"), a table while
    DELETING, a mapping while Deleting; the deadline is the longest of those the weather can
    draw, on this run's scale, plus room for a loaded machine. Lists lag a create (ListQueues:
    pocctl/local/aws/sqs.py, queue_listed), never a delete: what has left a list does not come
    back, so one empty look is enough. (The tagging API's lag does not matter: this inventory
    does not use it.)
    """
    longest = max(
        RULES[rule].high or RULES[rule].seconds
        for rule in ("queue_deleting", "table_deleting", "mapping_deleting")
    )
    deadline = time.monotonic() + longest * timing.scale + SETTLE_SLACK
    return until(lambda: inventory(world), lambda found: not found, deadline)


# -- drift: what someone changes by hand -----------------------------------------------------
@dataclass(frozen=True)
class Drift:
    apply: Callable[[World], None]
    # Whether one of status's problems names this drift (stack given): the resource and what
    # about it differs, in one problem.
    named_by: Callable[[list[str], str], bool]
    denies_notifier: bool = False


def one_names(problems: list[str], *patterns: str) -> bool:
    return any(all(re.search(p, problem) for p in patterns) for problem in problems)


def disable_stream_mapping(world: World) -> None:
    lam = world.client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName=f"{world.stack}-Lambda-2")[
        "EventSourceMappings"
    ]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)


def remove_publish_statement(world: World) -> None:
    iam = world.client("iam")
    role = f"{world.stack}-Lambda-2-Role"
    document = iam.get_role_policy(RoleName=role, PolicyName="order-notifier")["PolicyDocument"]
    document["Statement"] = [
        s for s in document["Statement"] if s.get("Sid") != "PublishOrderNotifications"
    ]
    iam.put_role_policy(
        RoleName=role, PolicyName="order-notifier", PolicyDocument=json.dumps(document)
    )


def shorten_queue_visibility(world: World) -> None:
    url = world.queue_url(f"{world.stack}-Queue")
    world.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})


DRIFTS: dict[str, Drift] = {
    "mapping disabled": Drift(
        disable_stream_mapping,
        lambda said, stack: one_names(said, rf"\b{stack}-Lambda-2\b(?!-)", "isabl"),
    ),
    # status words it "IAM role <stack>-Lambda-2-Role has drifted (inline policy order-notifier
    # differs ...)": the policy that lost the statement, not the statement itself.
    "policy statement removed": Drift(
        remove_publish_statement,
        lambda said, stack: one_names(
            said, rf"\b{stack}-Lambda-2-Role\b", r"inline policy order-notifier (differs|missing)"
        ),
        denies_notifier=True,
    ),
    "queue attribute changed": Drift(
        shorten_queue_visibility,
        lambda said, stack: one_names(said, rf"\b{stack}-Queue\b(?!-)", "VisibilityTimeout"),
    ),
}
