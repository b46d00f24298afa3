"""What Lambda's pollers do with a function's partial batch response, and the events and
records they send, in `pocctl local`, with a user's own handlers: one stack whose writer and
notifier keep every event they get and fail when an order asks them to."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pocctl.bundle import bundled_dir
from pocctl.context import Context
from pocctl.local.emulator import Emulator

from .emulated import up_local
from .test_local import eventually, queue_depth

KEEPER = """
import json, uuid
from pathlib import Path

EVENTS = Path({events!r})


def keep(event):
    (EVENTS / uuid.uuid4().hex).write_text(json.dumps(event))
"""

WRITER = """

def handler(event, context):
    keep(event)
    for record in event["Records"]:
        if record["body"] == "name a message not in the batch":
            return {"batchItemFailures": [{"itemIdentifier": "not-" + record["messageId"]}]}
    return {"batchItemFailures": []}
"""

NOTIFIER = """

def handler(event, context):
    keep(event)
    for record in event["Records"]:
        if "fail" in record["dynamodb"].get("NewImage", {}):
            raise RuntimeError("failing on purpose")
    return {"batchItemFailures": []}
"""


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("events")


@pytest.fixture(scope="module")
def stack(emulator: Emulator, events: Path, tmp_path_factory: pytest.TempPathFactory) -> Context:
    handlers = tmp_path_factory.mktemp("keeping") / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    keeper = KEEPER.format(events=str(events))
    (handlers / "order_writer.py").write_text(keeper + WRITER)
    (handlers / "order_notifier.py").write_text(keeper + NOTIFIER)
    return up_local(emulator, "kept", handlers=str(handlers))


def kept(events: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in events.iterdir()]


def queue_url(ctx: Context, name: str) -> str:
    url: str = ctx.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


def test_a_partial_batch_response_naming_a_message_not_in_the_batch_loses_nothing(
    stack: Context,
) -> None:
    """Lambda treats it as a failure of the whole batch (Lambda Developer Guide, "Handling
    errors for an SQS event source in Lambda", "Success and failure conditions"): the message
    comes back until the queue's redrive policy moves it to the dead-letter queue."""
    sqs = stack.client("sqs")
    url = queue_url(stack, "kept-Queue")
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
            "RedrivePolicy"
        ]
    )
    # Quicker redeliveries in the test, not in the product.
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({**redrive, "maxReceiveCount": 2}),
        },
    )
    sqs.send_message(QueueUrl=url, MessageBody="name a message not in the batch")
    assert eventually(lambda: queue_depth(stack, "kept-Queue-DLQ") == 1, timeout=30)
    (dead,) = sqs.receive_message(
        QueueUrl=queue_url(stack, "kept-Queue-DLQ"), AttributeNames=["All"]
    )["Messages"]
    assert dead["Body"] == "name a message not in the batch"
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 2
