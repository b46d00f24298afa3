"""POC-Lambda-1: store each order from the queue in DynamoDB, exactly once.

The API queues each order in an envelope, {"orderID": ..., "receivedAt": ..., "order": {...}}:
the id it gave the client and the time it took the order. Not the SQS message id: a redriven
message gets a new one (SQS Developer Guide, dead-letter queue redrive), while the body is what
every redrive moves. A redelivered or redriven order carries the same id, so the conditional put
turns it into a no-op instead of a second row, and the row keeps its first receivedAt. A body
that is the order itself (queued by an API deployed before the envelope, or by hand) is keyed
by its message id and received when it was queued, as it was then. Records that can't be stored
are reported in batchItemFailures: only those are retried and, after the queue's redrive count,
moved to the dead-letter queue.
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


ENVELOPE = {"orderID", "receivedAt", "order"}  # never an order: an order has an item


def envelope(body: str) -> dict[str, Any] | None:
    try:
        document = json.loads(body, parse_float=Decimal)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) and set(document) == ENVELOPE else None


def checked(order: Any) -> dict[str, Any]:
    if not isinstance(order, dict):
        raise BadOrder("body is not a JSON object")
    item = order.get("item")
    if not isinstance(item, str) or not item:
        raise BadOrder("order has no non-empty string 'item'")
    return order


def iso(epoch_ms: Any) -> str:
    moment = datetime.fromtimestamp(int(epoch_ms) / 1000, UTC) if epoch_ms else datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def order_id_of(record: dict[str, Any]) -> str:
    found = envelope(record.get("body") or "")
    return str(found["orderID"]) if found else str(record.get("messageId"))


def unpack(record: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(order id, receivedAt, order)."""
    found = envelope(record["body"])
    if found is not None:
        return str(found["orderID"]), iso(found["receivedAt"]), checked(found["order"])
    try:
        order = json.loads(record["body"], parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise BadOrder(f"body is not JSON: {exc.msg}") from exc
    sent_ms = record.get("attributes", {}).get("SentTimestamp")
    return str(record["messageId"]), iso(sent_ms), checked(order)


def store(record: dict[str, Any]) -> None:
    order_id, received, order = unpack(record)
    row = {**order, "orderID": order_id, "receivedAt": received}
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
