"""POC-Lambda-2: publish one readable notification per new order from the table's stream.

Only INSERT records notify (the mapping filters them too; the check here keeps the handler right
if the filter is ever lost). Each record is rendered on its own: one that cannot be rendered (not
an order, like the console's sample event) is logged and skipped, and fails nothing else.
Notifications go out with PublishBatch within SNS's limits (10 entries, 256 KiB per batch and
per message; a notification too large is cut, saying where the full order is); records whose
publish failed are reported in batchItemFailures so the stream retries from the first of them.

Each order is notified once, however often its record is read (a stream mapping made again reads
the stream from its start): an order whose row carries `notifiedAt` is skipped, and a row is
marked once its notification is published. A crash between the two may notify it twice, never
lose it. The mark is a MODIFY record, which the INSERT-only filter keeps from this function.
"""

from __future__ import annotations

import json
import os
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

BATCH = 10
SUBJECT_LIMIT = 100
# SNS: 256 KiB per message and per PublishBatch request (SNS API reference, PublishBatch).
SIZE_LIMIT = 256 * 1024
CUT_NOTE = (
    "\n\n[Cut to fit SNS's 256 KiB limit. "
    "The full order is row {order_id} of DynamoDB table {table}.]"
)
NOTIFIED = "notifiedAt"
UNKNOWN = "(unknown)"
_sns: Any = None
_dynamodb: Any = None
_deserializer = TypeDeserializer()


def sns() -> Any:
    global _sns
    if _sns is None:
        _sns = boto3.client("sns")
    return _sns


def dynamodb() -> Any:
    global _dynamodb
    if _dynamodb is None:
        _dynamodb = boto3.client("dynamodb")
    return _dynamodb


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


def entry_size(entry: dict[str, Any]) -> int:
    """What SNS counts: the message, the subject and the attributes' names, types and values."""
    size = len(entry["Message"].encode()) + len(entry["Subject"].encode())
    for name, attribute in entry["MessageAttributes"].items():
        size += len(name) + len(attribute["DataType"]) + len(attribute["StringValue"].encode())
    return size


def entry(order: dict[str, Any], table: str) -> dict[str, Any]:
    """One PublishBatch entry for an order, cut to SNS's size limit if need be."""
    rendered = {
        "Subject": subject(order),
        "Message": message(order),
        "MessageAttributes": {
            "orderID": {"DataType": "String", "StringValue": str(order["orderID"])}
        },
    }
    excess = entry_size(rendered) - SIZE_LIMIT
    if excess > 0:
        note = CUT_NOTE.format(order_id=order["orderID"], table=table)
        body = rendered["Message"].encode()
        keep = max(0, len(body) - excess - len(note.encode()))
        rendered["Message"] = body[:keep].decode("utf-8", "ignore") + note
        log("notification_cut", orderID=order["orderID"], bytes=len(body))
    return rendered


def batches(entries: list[tuple[str, dict[str, Any]]]) -> list[list[tuple[str, dict[str, Any]]]]:
    """Groups of at most ten entries and 256 KiB in all."""
    groups: list[list[tuple[str, dict[str, Any]]]] = []
    size = 0
    for item in entries:
        item_size = entry_size(item[1])
        if not groups or len(groups[-1]) == BATCH or size + item_size > SIZE_LIMIT:
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += item_size
    return groups


def publish(topic_arn: str, batch: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Publish one batch of (sequence number, entry); return the sequence numbers that failed."""
    entries = [{"Id": str(index), **rendered} for index, (_, rendered) in enumerate(batch)]
    ids = [e["MessageAttributes"]["orderID"]["StringValue"] for e in entries]
    try:
        result = sns().publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
    except Exception as exc:
        log("notify_failed", orderIDs=ids, error=repr(exc))
        return [sequence for sequence, _ in batch]
    failed = {int(f["Id"]) for f in result.get("Failed", [])}
    for index, order_id in enumerate(ids):
        if index in failed:
            log("notify_failed", orderID=order_id)
        else:
            log("order_notified", orderID=order_id)
    return [batch[i][0] for i in sorted(failed)]


def table_of(record: dict[str, Any]) -> str:
    arn = str(record.get("eventSourceARN", ""))
    return arn.split(":table/", 1)[1].split("/", 1)[0] if ":table/" in arn else UNKNOWN


def render(record: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(sequence number, entry), or None when the record is not an order we can render."""
    try:
        return record["dynamodb"]["SequenceNumber"], entry(order_from(record), table_of(record))
    except Exception as exc:  # this record alone: retrying cannot make it renderable
        log(
            "order_unrenderable",
            sequenceNumber=(record.get("dynamodb") or {}).get("SequenceNumber"),
            keys=(record.get("dynamodb") or {}).get("Keys"),
            error=repr(exc),
        )
        return None


def refused(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("AccessDenied", "AccessDeniedException")


def already_notified(table: str, keys: dict[str, Any]) -> bool:
    """The order's row says it was notified (read consistently: a mark made by the previous
    delivery of this batch counts). A row gone is not notified."""
    found = dynamodb().get_item(
        TableName=table, Key=keys, ConsistentRead=True, ProjectionExpression=NOTIFIED
    )
    return NOTIFIED in (found.get("Item") or {})


def mark_notified(table: str, keys: dict[str, Any]) -> None:
    """Only a row that still exists: an order deleted meanwhile is not written back."""
    try:
        dynamodb().update_item(
            TableName=table,
            Key=keys,
            UpdateExpression="SET #notified = :now",
            ConditionExpression="attribute_exists(orderID)",
            ExpressionAttributeNames={"#notified": NOTIFIED},
            ExpressionAttributeValues={
                ":now": {"S": datetime.now(UTC).isoformat(timespec="milliseconds")}
            },
        )
    except Exception as exc:  # published already: retrying the record would publish it again
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code != "ConditionalCheckFailedException":  # (the row is gone: nothing to mark)
            log("mark_failed", keys=keys, error=repr(exc))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    topic_arn = os.environ["TOPIC_ARN"]
    inserts = [r for r in event.get("Records", []) if r.get("eventName") == "INSERT"]
    failed: list[str] = []
    rendered: list[tuple[str, dict[str, Any]]] = []
    keys: dict[str, tuple[str, dict[str, Any]]] = {}
    for record in inserts:
        found = render(record)
        if found is None:
            continue
        # A record not read from a stream (invoked by hand) names no table: nothing to check.
        table = table_of(record)
        key = (record["dynamodb"].get("Keys") or {}) if table != UNKNOWN else {}
        try:
            if key and already_notified(table, key):
                order_id = found[1]["MessageAttributes"]["orderID"]["StringValue"]
                log("order_already_notified", orderID=order_id)
                continue
        except Exception as exc:
            if not refused(exc):
                # Throttled, or a passing fault: the stream delivers the record again (with the
                # mapping's retries), rather than notify again an order a replay already did.
                log("notified_check_failed", keys=key, error=repr(exc), retried=True)
                failed.append(found[0])
                continue
            # Refused (a boundary an administrator has not yet updated for this check refuses
            # it every time): at least once, notified, perhaps again, rather than never.
            log("notified_check_failed", keys=key, error=repr(exc), retried=False)
        rendered.append(found)
        keys[found[0]] = (table, key)
    for batch in batches(rendered):
        failures = publish(topic_arn, batch)
        failed += failures
        for sequence, _ in batch:
            table, key = keys[sequence]
            if sequence not in failures and key:
                mark_notified(table, key)
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
