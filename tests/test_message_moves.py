"""SQS's dead-letter queue redrive as `pocctl local` acts it out (moto has none): what the SQS
API reference and Developer Guide say of StartMessageMoveTask and ListMessageMoveTasks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import Emulator
from pocctl.ops.smoke import until_usable

from .emulated import local_context


@pytest.fixture(scope="module")
def real_clock() -> Iterator[Emulator]:
    """AWS's timing at its real durations: a move task starts after a second."""
    with Emulator(port=0, timing=Timing()) as running:
        yield running


def test_the_emulated_redrive_acts_as_sqs_documents_it(real_clock: Emulator) -> None:
    ctx = local_context(real_clock, "mv")
    sqs = ctx.client("sqs")
    dlq = sqs.create_queue(QueueName="mv-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = sqs.create_queue(QueueName="mv-src", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    source_arn = dlq_arn.replace("mv-dlq", "mv-src")

    until_usable(ctx, dlq)  # a new queue can be used after a second (SQS API reference)
    with pytest.raises(ClientError) as refused:
        sqs.start_message_move_task(SourceArn=source_arn)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "Source queue must be configured as a Dead Letter Queue." in str(refused.value)

    original = sqs.send_message(
        QueueUrl=dlq,
        MessageBody="order",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )["MessageId"]
    sqs.start_message_move_task(SourceArn=dlq_arn)
    (task,) = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["Status"] == "RUNNING" and "TaskHandle" in task  # asynchronous
    assert task["ApproximateNumberOfMessagesToMove"] == 1
    assert task["DestinationArn"] == source_arn  # without one: back to the source queue
    with pytest.raises(ClientError, match="Only one active task"):
        sqs.start_message_move_task(SourceArn=dlq_arn)

    moved = sqs.receive_message(QueueUrl=source, WaitTimeSeconds=5, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert moved[0]["Body"] == "order" and moved[0]["MessageId"] != original
    assert moved[0]["MessageAttributes"]["k"]["StringValue"] == "v"
