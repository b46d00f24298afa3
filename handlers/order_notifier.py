"""POC-Lambda-2: publish one readable notification per new order from the table's stream.

Only INSERT records notify (the mapping filters them too; the check here keeps the handler right
if the filter is ever lost). Notifications go out with PublishBatch, ten per call; records whose
publish failed are reported in batchItemFailures so the stream retries from the first of them.
"""

from __future__ import annotations

import json
import os
import unicodedata
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

BATCH = 10
SUBJECT_LIMIT = 100
_sns: Any = None
_deserializer = TypeDeserializer()


def sns() -> Any:
    global _sns
    if _sns is None:
        _sns = boto3.client("sns")
    return _sns


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, default=str, ensure_ascii=False))


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [plain(v) for v in value]
    return value


def order_from(record: dict[str, Any]) -> dict[str, Any]:
    image = record["dynamodb"]["NewImage"]
    return {k: plain(_deserializer.deserialize(v)) for k, v in image.items()}


def subject(order: dict[str, Any]) -> str:
    """SNS subjects must be ASCII, without control characters, under 100 characters."""
    text = f"New order {order['orderID']}: {order.get('item', '')}"
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    printable = "".join(c if c.isprintable() else " " for c in ascii_text)
    return printable[: SUBJECT_LIMIT - 1]


def message(order: dict[str, Any]) -> str:
    known = ("orderID", "item", "customerID", "receivedAt")
    lines = [
        "A new order was received.",
        "",
        f"Order ID:    {order['orderID']}",
        f"Item:        {order.get('item', '')}",
        f"Customer ID: {order.get('customerID', '(none)')}",
        f"Received at: {order.get('receivedAt', '')}",
    ]
    extra = {k: v for k, v in order.items() if k not in known}
    if extra:
        lines += ["", "Other details:"]
        lines += [f"  {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(extra.items())]
    lines += ["", "Order as JSON:", json.dumps(order, ensure_ascii=False, sort_keys=True)]
    return "\n".join(lines)


def publish(topic_arn: str, batch: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Publish one batch; return the sequence numbers of the records that failed."""
    entries = [
        {
            "Id": str(index),
            "Subject": subject(order),
            "Message": message(order),
            "MessageAttributes": {
                "orderID": {"DataType": "String", "StringValue": str(order["orderID"])}
            },
        }
        for index, (_, order) in enumerate(batch)
    ]
    try:
        result = sns().publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
    except Exception as exc:
        log("notify_failed", orderIDs=[o["orderID"] for _, o in batch], error=repr(exc))
        return [sequence for sequence, _ in batch]
    failed = {int(f["Id"]) for f in result.get("Failed", [])}
    for index, (_, order) in enumerate(batch):
        if index in failed:
            log("notify_failed", orderID=order["orderID"])
        else:
            log("order_notified", orderID=order["orderID"], item=order.get("item"))
    return [batch[i][0] for i in sorted(failed)]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    topic_arn = os.environ["TOPIC_ARN"]
    new_orders = [
        (record["dynamodb"]["SequenceNumber"], order_from(record))
        for record in event.get("Records", [])
        if record.get("eventName") == "INSERT"
    ]
    failed: list[str] = []
    for start in range(0, len(new_orders), BATCH):
        failed += publish(topic_arn, new_orders[start : start + BATCH])
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
