"""POC-Lambda-1: store each order from the queue in DynamoDB, exactly once.

The order id is the one the API gave the client, carried as the message attribute orderID (not
the SQS message id: a redriven message gets a new one, SQS Developer Guide, dead-letter queue
redrive). A redelivered or redriven message carries the same order id, so the conditional put
turns it into a no-op instead of a second row, and the row keeps its first receivedAt. A message
without the attribute (queued by an API deployed before it carried one) is keyed by its message
id, as it was then. Records that can't be stored are reported in batchItemFailures: only those
are retried and, after the queue's redrive count, moved to the dead-letter queue.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

_table: Any = None


def table() -> Any:
    """The table resource, created once per container rather than once per invocation."""
    global _table
    if _table is None:
        _table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    return _table


class BadOrder(ValueError):
    pass


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, default=str, ensure_ascii=False))


def parse_order(body: str) -> dict[str, Any]:
    try:
        order = json.loads(body, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise BadOrder(f"body is not JSON: {exc.msg}") from exc
    if not isinstance(order, dict):
        raise BadOrder("body is not a JSON object")
    item = order.get("item")
    if not isinstance(item, str) or not item:
        raise BadOrder("order has no non-empty string 'item'")
    return order


def attribute(record: dict[str, Any], name: str) -> str | None:
    value = ((record.get("messageAttributes") or {}).get(name) or {}).get("stringValue")
    return value if isinstance(value, str) and value else None


def order_id_of(record: dict[str, Any]) -> str:
    return attribute(record, "orderID") or str(record.get("messageId"))


def received_at(record: dict[str, Any]) -> str:
    """When the API took the order; a message without that attribute: when it was queued."""
    received_ms = attribute(record, "receivedAt")
    sent_ms = record.get("attributes", {}).get("SentTimestamp")
    stamp = received_ms if received_ms and received_ms.isdigit() else sent_ms
    moment = datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp else datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def store(record: dict[str, Any]) -> None:
    order_id = order_id_of(record)
    order = parse_order(record["body"])
    row = {**order, "orderID": order_id, "receivedAt": received_at(record)}
    try:
        table().put_item(Item=row, ConditionExpression="attribute_not_exists(orderID)")
    except ClientError as exc:
        error = exc.response["Error"]
        if error["Code"] == "ValidationException" and "size" in error.get("Message", ""):
            # DynamoDB stores at most 400 KB per item; SQS carries up to 1 MiB. Retrying cannot
            # help: the message goes to the dead-letter queue after the redrive count.
            log(
                "order_too_large",
                orderID=order_id,
                bytes=len(record["body"].encode()),
                limit="DynamoDB items are at most 400 KB",
            )
        if error["Code"] != "ConditionalCheckFailedException":
            raise
        log("order_already_stored", orderID=order_id)
        return
    log("order_stored", orderID=order_id, item=order["item"])


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            store(record)
        except Exception as exc:  # any record we can't store is retried, never dropped
            log("order_failed", orderID=order_id_of(record), error=repr(exc))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
