"""What Lambda's pollers do with a function's partial batch response, and the events and
records they send, in `pocctl local`, with a user's own handlers: one stack whose writer and
notifier keep every event they get and fail when an order asks them to."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pocctl.code.bundle import bundled_dir
from pocctl.core.context import Context
from pocctl.local.emulator import Emulator
from pocctl.ops.invoke import NOTIFIER, WRITER, sample_event

from .emulated import up_local
from .test_local import eventually, queue_depth

KEEPER = """
import json, uuid
from pathlib import Path

EVENTS = Path({events!r})


def keep(event):
    (EVENTS / uuid.uuid4().hex).write_text(json.dumps(event))
"""

WRITER_CODE = """

def handler(event, context):
    keep(event)
    for record in event["Records"]:
        if record["body"] == "name a message not in the batch":
            return {"batchItemFailures": [{"itemIdentifier": "not-" + record["messageId"]}]}
    return {"batchItemFailures": []}
"""

NOTIFIER_CODE = """

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
    (handlers / "order_writer.py").write_text(keeper + WRITER_CODE)
    (handlers / "order_notifier.py").write_text(keeper + NOTIFIER_CODE)
    return up_local(emulator, "kept", handlers=str(handlers))


def kept(events: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in events.iterdir()]


def queue_url(ctx: Context, name: str) -> str:
    url: str = ctx.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


def test_a_partial_batch_response_naming_a_message_not_in_the_batch_loses_nothing(
    stack: Context, emulator: Emulator
) -> None:
    """Lambda treats it as a failure of the whole batch (Lambda Developer Guide, "Handling
    errors for an SQS event source in Lambda", "Success and failure conditions"): the message
    comes back until the queue's redrive policy moves it to the dead-letter queue."""
    sqs = stack.client("sqs")
    url = queue_url(stack, "kept-Queue")
    dlq = queue_url(stack, "kept-Queue-DLQ")
    kept = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["RedrivePolicy", "VisibilityTimeout"]
    )["Attributes"]
    redrive = json.loads(kept["RedrivePolicy"])
    # Quicker redeliveries in this test only: the module's other tests get the stack as `up`
    # made it, whatever order they run in.
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({**redrive, "maxReceiveCount": 2}),
        },
    )
    emulator.settled()  # SQS applies a changed attribute a while later
    try:
        sqs.send_message(QueueUrl=url, MessageBody="name a message not in the batch")
        assert eventually(lambda: queue_depth(stack, "kept-Queue-DLQ") == 1, timeout=30)
        (dead,) = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
        assert dead["Body"] == "name a message not in the batch"
        assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 2
        sqs.delete_message(QueueUrl=dlq, ReceiptHandle=dead["ReceiptHandle"])
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=kept)


# -- the shapes AWS documents: each key of the sample must be there, with a value of its type --
# Lambda Developer Guide, "Using Lambda with Amazon SQS", example event (with a message attribute
# as "Using Lambda with Amazon SQS" shows one).
SQS_SAMPLE = {
    "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
    "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
    "body": "Test message.",
    "attributes": {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1545082649183",
        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
        "ApproximateFirstReceiveTimestamp": "1545082649185",
    },
    "messageAttributes": {
        "myAttribute": {
            "stringValue": "myValue",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    },
    "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
    "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
    "awsRegion": "us-east-2",
}
# A record a stream mapping handed a function on AWS, as recorded in localstack/localstack,
# tests/aws/services/lambda_/event_source_mapping/
# test_lambda_integration_dynamodbstreams.snapshot.json, test_dynamodb_event_source_mapping
# (placeholders filled in). Live streams send eventVersion "1.1"; the Lambda Developer Guide's
# hand-written example ("Using Lambda with DynamoDB") says "1.0". ApproximateCreationDateTime,
# a placeholder there, is a number as in the guide's example.
STREAM_SAMPLE = {
    "eventID": "c81e728d9d4c2f636f067f89cc14862c",
    "eventName": "INSERT",
    "eventVersion": "1.1",
    "eventSource": "aws:dynamodb",
    "awsRegion": "us-east-1",
    "dynamodb": {
        "ApproximateCreationDateTime": 1693997155,
        "Keys": {"my_partition_key": {"S": "hello world"}},
        "NewImage": {
            "binary_key": {"B": "Zm9vYmFy"},
            "my_partition_key": {"S": "hello world"},
        },
        "SequenceNumber": "111",
        "SizeBytes": 70,
        "StreamViewType": "NEW_IMAGE",
    },
    "eventSourceARN": (
        "arn:aws:dynamodb:us-east-1:111111111111:table/t/stream/2015-05-11T21:21:33.291"
    ),
}
# Lambda Developer Guide, "Using Lambda with DynamoDB", on-failure destinations, "Example
# invocation record".
INVOCATION_RECORD_SAMPLE = {
    "requestContext": {
        "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 1,
    },
    "responseContext": {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    },
    "version": "1.0",
    "timestamp": "2019-11-14T00:13:49.717Z",
    "DDBStreamBatchInfo": {
        "shardId": "shardId-00000001573689847184-864758bb",
        "startSequenceNumber": "800000000003126276362",
        "endSequenceNumber": "800000000003126276362",
        "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
        "approximateArrivalOfLastRecord": "2019-11-14T00:13:19Z",
        "batchSize": 1,
        "streamArn": (
            "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
        ),
    },
}
# Whose keys are the user's (attribute names), not AWS's: each value is an object whose keys
# depend on its type (S or B; stringValue or binaryValue), checked on their own.
USERS_KEYS = {"messageAttributes", "Keys", "NewImage", "OldImage"}


def differences(sample: dict[str, Any], ours: dict[str, Any], at: str = "") -> list[str]:
    """Where `ours` lacks a key of the documented sample, or holds a value of another type."""
    found = []
    for key, documented in sample.items():
        where = f"{at}{key}"
        if key not in ours:
            found.append(f"{where} missing")
            continue
        value = ours[key]
        if type(value) is not type(documented):
            found.append(f"{where}: {type(value).__name__}, documented {type(documented).__name__}")
        elif isinstance(documented, dict) and key in USERS_KEYS:
            found += [
                f"{where}.{name}: not an object"
                for name, one in value.items()
                if not isinstance(one, dict)
            ]
        elif isinstance(documented, dict):
            found += differences(documented, value, f"{where}.")
    return found


def record_stream_arn(ctx: Context) -> str:
    arn: str = ctx.client("dynamodb").describe_table(TableName="kept-orders")["Table"][
        "LatestStreamArn"
    ]
    return arn


def records_of(events: Path, source: str) -> list[dict[str, Any]]:
    return [r for e in kept(events) for r in e.get("Records", []) if r["eventSource"] == source]


def test_sqs_records_are_shaped_as_lambda_sends_them(stack: Context, events: Path) -> None:
    sqs = stack.client("sqs")
    url = queue_url(stack, "kept-Queue")
    sqs.send_message(
        QueueUrl=url,
        MessageBody="with attributes",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "mop"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )
    sqs.send_message(QueueUrl=url, MessageBody="without attributes")

    def both() -> dict[str, dict[str, Any]]:
        found = {r["body"]: r for r in records_of(events, "aws:sqs")}
        return found if {"with attributes", "without attributes"} <= set(found) else {}

    got = eventually(both)
    assert got, "the writer did not get both messages"
    with_attributes, without = got["with attributes"], got["without attributes"]
    for record in (with_attributes, without):
        assert differences(SQS_SAMPLE, record) == []
        assert record["awsRegion"] == "us-east-1"
        assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:kept-Queue"
        assert int(record["attributes"]["ApproximateReceiveCount"]) >= 1
    assert with_attributes["messageAttributes"] == {
        "kind": {
            "stringValue": "mop",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": "AP8=",  # base64, as binary values travel in JSON
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    assert isinstance(with_attributes["md5OfMessageAttributes"], str)
    assert without["messageAttributes"] == {}
    # Powertools for AWS Lambda's SQS event schema: md5OfMessageAttributes is null or a string.
    assert without["md5OfMessageAttributes"] is None


def test_stream_records_are_shaped_as_lambda_sends_them(stack: Context, events: Path) -> None:
    stack.client("dynamodb").put_item(
        TableName="kept-orders",
        Item={"orderID": {"S": "shaped"}, "item": {"S": "mop"}, "blob": {"B": b"\x00\xff"}},
    )

    def inserted() -> list[dict[str, Any]]:
        return [
            r
            for r in records_of(events, "aws:dynamodb")
            if r["dynamodb"]["Keys"] == {"orderID": {"S": "shaped"}}
        ]

    (record,) = eventually(inserted)
    assert differences(STREAM_SAMPLE, record) == []
    assert record["eventVersion"] == "1.1"  # as live streams send it (pocctl/local/events.py)
    assert record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == record_stream_arn(stack)
    change = record["dynamodb"]
    assert change["StreamViewType"] == "NEW_IMAGE"
    assert change["SizeBytes"] >= 1
    assert change["SequenceNumber"].isdigit()
    # Binary values in base64, as on the wire (DynamoDB API reference, AttributeValue: B).
    assert change["NewImage"]["blob"] == {"B": "AP8="}


def test_a_stream_mapping_reports_ok_once_a_batch_went_through(stack: Context) -> None:
    """LastProcessingResult: "No records processed" until then (test_mapping_rules), "OK" after
    (recorded against AWS: pocctl/local/pollers.py, PROCESSED_OK), in Get and List alike."""
    stack.client("dynamodb").put_item(
        TableName="kept-orders", Item={"orderID": {"S": "processed"}, "item": {"S": "mop"}}
    )
    lam = stack.client("lambda")

    def results() -> set[str]:
        (listed,) = lam.list_event_source_mappings(FunctionName="kept-Lambda-2")[
            "EventSourceMappings"
        ]
        got = lam.get_event_source_mapping(UUID=listed["UUID"])
        return {listed["LastProcessingResult"], got["LastProcessingResult"]}

    assert eventually(lambda: results() == {"OK"}, timeout=30)


def test_a_stream_batch_given_up_on_is_recorded_as_lambda_records_it(stack: Context) -> None:
    stack.client("dynamodb").put_item(
        TableName="kept-orders",
        Item={"orderID": {"S": "doomed"}, "item": {"S": "mop"}, "fail": {"BOOL": True}},
    )
    assert eventually(lambda: queue_depth(stack, "kept-Stream-Failures") == 1, timeout=30)
    sqs = stack.client("sqs")
    (message,) = sqs.receive_message(QueueUrl=queue_url(stack, "kept-Stream-Failures"))["Messages"]
    record = json.loads(message["Body"])
    assert differences(INVOCATION_RECORD_SAMPLE, record) == []
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["requestContext"]["functionArn"].endswith(":function:kept-Lambda-2")
    info = record["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"].startswith(
        "arn:aws:dynamodb:us-east-1:123456789012:table/kept-orders/"
    )
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
    assert re.fullmatch(stamp + r"\.\d{3}Z", record["timestamp"])
    assert re.fullmatch(stamp + "Z", info["approximateArrivalOfFirstRecord"])
    assert re.fullmatch(stamp + "Z", info["approximateArrivalOfLastRecord"])


def test_pocctl_invokes_samples_are_shaped_as_the_sources_events(stack: Context) -> None:
    writer, notifier = (sample_event(stack, which)["Records"][0] for which in (WRITER, NOTIFIER))
    assert differences(SQS_SAMPLE, writer) == []
    assert writer["md5OfMessageAttributes"] is None
    assert differences(STREAM_SAMPLE, notifier) == []
    assert notifier["eventVersion"] == "1.1"
