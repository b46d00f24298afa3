"""What the soak reads and does to the account beside pocctl: plain boto3 against the emulator.

Its reads are independent of pocctl's own lookups: the orders from the table's stream, the mail
from the emulator's outbox, the account's inventory from each service's list calls (not the
tagging API, not pocctl's sweep).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3

from pocctl.local.emulator import Emulator

T = TypeVar("T")
POLL = 0.1  # seconds between looks at a condition with a deadline


@dataclass
class Orders:
    inserts: Counter[str] = field(default_factory=Counter)
    notified: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)


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

    def orders_settled(self, accepted: list[str], denied: bool, deadline: float) -> Orders:
        """The orders once each accepted one is stored and notified (or, denied, in a failed
        batch), or as they are at the deadline."""

        def done(found: Orders) -> bool:
            arrived = found.failed | found.notified if denied else found.notified
            return all(found.inserts[i] and i in arrived for i in accepted)

        return until(lambda: self.orders(denied), done, deadline)


def until(read: Callable[[], T], done: Callable[[T], bool], deadline: float) -> T:
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(POLL)


# -- the inventory -----------------------------------------------------------------------------
def inventory(world: World) -> dict[str, list[str]]:
    """Everything of the stack the account's own list calls show."""
    c = world.client
    stack = world.stack

    def mine(name: str) -> bool:
        return name.startswith(f"{stack}-") or f"/{stack}-" in name or f":{stack}-" in name

    everything = {
        "roles": [r["RoleName"] for r in c("iam").list_roles()["Roles"]],
        "tables": c("dynamodb").list_tables()["TableNames"],
        "queues": [u.rsplit("/", 1)[1] for u in c("sqs").list_queues().get("QueueUrls", [])],
        "topics": [t["TopicArn"].rsplit(":", 1)[1] for t in c("sns").list_topics()["Topics"]],
        "subscriptions": [s["TopicArn"] for s in c("sns").list_subscriptions()["Subscriptions"]],
        "functions": [f["FunctionName"] for f in c("lambda").list_functions()["Functions"]],
        "mappings": [
            m["FunctionArn"].rsplit(":", 1)[1]
            for m in c("lambda").list_event_source_mappings()["EventSourceMappings"]
        ],
        "log_groups": [g["logGroupName"] for g in c("logs").describe_log_groups()["logGroups"]],
        "apis": [a["name"] for a in c("apigateway").get_rest_apis()["items"]],
    }
    return {kind: sorted(n for n in names if mine(n)) for kind, names in everything.items()}


def inventory_when_settled(world: World, deadline: float) -> dict[str, list[str]]:
    """The inventory once AWS has finished what it was deleting (a table DELETING, a queue
    listed for up to 60 s: SQS API reference, DeleteQueue), or as it is at the deadline."""
    return until(lambda: inventory(world), lambda found: not any(found.values()), deadline)


# -- drift: what someone changes by hand -----------------------------------------------------
@dataclass(frozen=True)
class Drift:
    apply: Callable[[World], None]
    named_by: Callable[[str, str], bool]  # (status's problems as text, stack)
    denies_notifier: bool = False


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
        lambda said, stack: f"{stack}-Lambda-2" in said and "isabl" in said,
    ),
    "policy statement removed": Drift(
        remove_publish_statement,
        lambda said, stack: f"{stack}-Lambda-2-Role" in said,
        denies_notifier=True,
    ),
    "queue attribute changed": Drift(
        shorten_queue_visibility,
        lambda said, stack: f"{stack}-Queue" in said and "VisibilityTimeout" in said,
    ),
}
