"""What Lambda's pollers hand a function, and what they send a stream mapping's on-failure
destination, in the shapes AWS documents (checked key by key in tests/test_event_shapes.py)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pocctl.core.arns import Arn

# DynamoDB Streams records as a live stream gives them carry eventVersion "1.1" (captured events,
# e.g. @incdevco/framework's lambda/dynamodb-stream/example-event.json, pastebin.com/Anu9nCzN);
# the Lambda Developer Guide's hand-written sample says "1.0"; moto writes "1.0".
STREAM_EVENT_VERSION = "1.1"


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One received message as a record of Lambda's SQS event (Lambda Developer Guide, "Using
    Lambda with Amazon SQS", example event). `md5OfMessageAttributes` is null for a message
    without attributes (Powertools for AWS Lambda's SQS event schema: `null | string`)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message_attributes(message.get("MessageAttributes") or {}),
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": Arn.parse(queue_arn).region,
    }


def message_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Message attributes as Lambda hands them to a function: camel-case keys, binary values in
    base64, empty lists (Lambda Developer Guide, "Using Lambda with Amazon SQS", example event)."""
    shaped: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        one: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        if "StringValue" in value:
            one["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            one["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        shaped[name] = one
    return shaped


def stream_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB Streams record (as boto3 parses GetRecords) as Lambda hands it to a function
    (Lambda Developer Guide, "Using Lambda with DynamoDB", example event): JSON throughout,
    binary values (B, BS) in base64 as on the wire (DynamoDB API reference, AttributeValue),
    ApproximateCreationDateTime in epoch seconds."""
    event: dict[str, Any] = json.loads(json.dumps(record, default=_wire_form))
    event["eventVersion"] = STREAM_EVENT_VERSION
    event["eventSourceARN"] = stream_arn
    event["awsRegion"] = Arn.parse(stream_arn).region
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        event["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
    return event


def _wire_form(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def stream_failure_record(
    records: list[dict[str, Any]],
    *,
    mapping: dict[str, Any],
    shard_id: str,
    attempts: int,
    function_error: bool,
) -> dict[str, Any]:
    """What a stream mapping sends its on-failure destination about a batch it gave up on
    (Lambda Developer Guide, "Using Lambda with DynamoDB", "Example invocation record"): the
    batch by shard and sequence numbers, not its records. `functionError` is "Unhandled" when
    the function failed, and null when its partial batch responses kept failing the batch
    (recorded against AWS in localstack/localstack, tests/aws/services/lambda_/
    event_source_mapping/test_lambda_integration_dynamodbstreams.snapshot.json,
    test_dynamodb_report_batch_item_failures and ..._failure_scenarios)."""
    response: dict[str, Any] = {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled" if function_error else None,
    }
    created = [r["dynamodb"].get("ApproximateCreationDateTime") for r in records]
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": mapping["FunctionArn"],
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _arrival(created[0]),
            "approximateArrivalOfLastRecord": _arrival(created[-1]),
            "batchSize": len(records),
            "streamArn": mapping["EventSourceArn"],
        },
    }


def _arrival(created: Any) -> str:
    """A record's creation time as the invocation record writes it: "2019-11-14T00:13:19Z"
    (now, for a record that carries none: one made by hand, not read from a stream)."""
    moment = (
        datetime.fromtimestamp(float(created), UTC)
        if isinstance(created, (int, float))
        else datetime.now(UTC)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
