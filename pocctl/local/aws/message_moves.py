"""SQS's dead-letter queue redrive, which moto lacks: StartMessageMoveTask, ListMessageMoveTasks
and CancelMessageMoveTask, as the SQS API reference and Developer Guide ("Learn how to configure
a dead-letter queue redrive") describe them:

- the source must be a queue that another SQS queue names as its dead-letter queue
  (InvalidParameterValue "Source queue must be configured as a Dead Letter Queue.");
- only one active task per source queue;
- the task is asynchronous: it reports RUNNING, then COMPLETED, with the approximate number of
  messages to move (those in the queue when it started) and moved so far;
- "All redriven messages are considered new messages with a new messageID and enqueueTime";
  body and message attributes are kept;
- without DestinationArn, messages go back to their source queue;
- MaxNumberOfMessagesPerSecond is 1 to 500; without it AWS picks the rate (here 500).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from pocctl.core.arns import Arn
from pocctl.local.aws.base import World
from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error, json_reply

JSON = "application/x-amz-json-1.0"
FASTEST = 500
OPERATIONS = frozenset({"StartMessageMoveTask", "ListMessageMoveTasks", "CancelMessageMoveTask"})


@dataclass
class Task:
    handle: str
    region: str
    source_arn: str
    destination_arn: str
    rate: int | None
    to_move: int
    started_ms: int
    status: str = "RUNNING"
    moved: int = 0
    failure: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "DestinationArn": self.destination_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.rate is not None:
            found["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.status == "RUNNING":
            found["TaskHandle"] = self.handle
        if self.failure:
            found["FailureReason"] = self.failure
        return found


def url_of(base_url: str, arn: str) -> str:
    queue = Arn.parse(arn)
    return f"{base_url}/{queue.account}/{queue.name}"


class MessageMoves:
    def __init__(self, world: World, base_url: Any) -> None:
        self.world = world
        self.base_url = base_url
        self.tasks: list[Task] = []
        self.lock = threading.Lock()

    def handle(self, call: Call) -> Reply:
        if call.operation == "StartMessageMoveTask":
            return self.start(call)
        if call.operation == "ListMessageMoveTasks":
            source = str(call.params.get("SourceArn", ""))
            limit = int(call.params.get("MaxResults") or 1)
            with self.lock:
                mine = [t for t in self.tasks if t.source_arn == source]
            results = [t.as_json() for t in reversed(mine)][:limit]
            return json_reply(200, {"Results": results}, JSON)
        return self.cancel(call)

    def _attributes(self, region: str, arn: str) -> dict[str, str] | None:
        sqs = self.world.client("sqs", region)
        try:
            found: dict[str, str] = sqs.get_queue_attributes(
                QueueUrl=url_of(self.base_url(), arn), AttributeNames=["All"]
            )["Attributes"]
            return found
        except Exception:
            return None

    def _sources_of(self, region: str, dlq_arn: str) -> list[str]:
        sqs = self.world.client("sqs", region)
        arns = []
        for url in sqs.list_queues().get("QueueUrls", []):
            try:
                attributes = sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"]
                )["Attributes"]
            except ClientError:  # deleted since it was listed (a test-order inbox, say)
                continue
            policy = json.loads(attributes.get("RedrivePolicy") or "{}")
            if policy.get("deadLetterTargetArn") == dlq_arn:
                arns.append(attributes["QueueArn"])
        return arns

    def start(self, call: Call) -> Reply:
        source = str(call.params.get("SourceArn", ""))
        destination = call.params.get("DestinationArn")
        rate = call.params.get("MaxNumberOfMessagesPerSecond")
        attributes = self._attributes(call.region, source)
        if attributes is None:
            return error(
                call,
                400,
                "ResourceNotFoundException",
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            )
        if rate is not None and not 1 <= int(rate) <= FASTEST:
            return error(
                call,
                400,
                "InvalidParameterValue",
                f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                "Reason: Must be between 1 and 500, if provided.",
            )
        sources = self._sources_of(call.region, source)
        if not sources:
            return error(
                call,
                400,
                "InvalidParameterValue",
                "Source queue must be configured as a Dead Letter Queue.",
            )
        if destination and self._attributes(call.region, str(destination)) is None:
            return error(
                call,
                400,
                "ResourceNotFoundException",
                "The resource that you specified for the DestinationArn parameter doesn't exist.",
            )
        with self.lock:
            # The rule is the API reference's; it names no error for it, so the code and
            # wording are those other emulators answer (LocalStack's, among the public ones).
            if any(t.source_arn == source and t.status == "RUNNING" for t in self.tasks):
                return error(
                    call,
                    400,
                    "InvalidParameterValue",
                    "There is already a task running. Only one active task is allowed for a "
                    "source queue arn at a given time.",
                )
            handle = base64.b64encode(
                json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source}).encode()
            ).decode()
            task = Task(
                handle=handle,
                region=call.region,
                source_arn=source,
                destination_arn=str(destination or sources[0]),
                rate=int(rate) if rate is not None else None,
                to_move=int(attributes.get("ApproximateNumberOfMessages", 0)),
                started_ms=int(self.world.wall() * 1000),
            )
            self.tasks.append(task)
        threading.Thread(target=self._run, args=(task,), daemon=True).start()
        return json_reply(200, {"TaskHandle": handle}, JSON)

    def cancel(self, call: Call) -> Reply:
        handle = str(call.params.get("TaskHandle", ""))
        with self.lock:
            task = next((t for t in self.tasks if t.handle == handle), None)
        if task is None or task.status != "RUNNING":
            return error(
                call,
                400,
                "ResourceNotFoundException",
                "The resource that you specified for the TaskHandle parameter doesn't exist.",
            )
        task.status = "CANCELLING"
        task.cancelled.set()
        return json_reply(200, {"ApproximateNumberOfMessagesMoved": task.moved}, JSON)

    def _run(self, task: Task) -> None:
        sqs = self.world.client("sqs", task.region)
        source_url = url_of(self.base_url(), task.source_arn)
        destination_url = url_of(self.base_url(), task.destination_arn)
        pause = 1.0 / (task.rate or FASTEST)
        if task.cancelled.wait(self.world.timing.seconds("message_move_start", task.source_arn)):
            task.status = "CANCELLED"
            return
        try:
            while task.moved < task.to_move and not task.cancelled.is_set():
                messages = sqs.receive_message(
                    QueueUrl=source_url,
                    MaxNumberOfMessages=min(10, task.to_move - task.moved),
                    MessageAttributeNames=["All"],
                    VisibilityTimeout=30,
                ).get("Messages", [])
                if not messages:
                    break  # the rest are in flight or gone: AWS moves what it can receive
                for message in messages:
                    sqs.send_message(
                        QueueUrl=destination_url,
                        MessageBody=message["Body"],
                        **(
                            {"MessageAttributes": message["MessageAttributes"]}
                            if message.get("MessageAttributes")
                            else {}
                        ),
                    )
                    sqs.delete_message(QueueUrl=source_url, ReceiptHandle=message["ReceiptHandle"])
                    task.moved += 1
                    time.sleep(pause * self.world.timing.scale if self.world.timing.enabled else 0)
        except Exception as exc:  # a queue deleted under the task: it fails, as on AWS
            task.status, task.failure = "FAILED", f"{type(exc).__name__}: {exc}"
            return
        task.status = "CANCELLED" if task.cancelled.is_set() else "COMPLETED"
