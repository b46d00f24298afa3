"""SQS counts a message in bytes, its message attributes included.

"The maximum size is 1 MiB or 1,048,576 bytes" (SQS API reference, SendMessage, MessageBody), up
to the queue's `MaximumMessageSize` ("Default: 1,048,576 bytes (1 MiB)": CreateQueue; 256 KiB
before August 2025). "All parts of the message attribute, including name, type, and value, are
part of the message size restriction" (SendMessage, MessageAttributes). Over it:
InvalidParameterValue "One or more parameters are invalid. Reason: Message must be shorter than
<limit> bytes." (AWS's answer in getmoto/moto#450, inferablehq/inferable#306). SendMessageBatch:
"the maximum total payload size (the sum of the individual lengths of all of the batched
messages)" is 1 MiB too (SendMessageBatch), else BatchRequestTooLong "Batch requests cannot be
longer than <limit> bytes. You have sent <n> bytes." (vmihailenco/taskq#36,
awslabs/amazon-sqs-python-extended-client-lib#25). moto counts the body's characters alone.
Within a batch each entry is held to the queue's MaximumMessageSize in bytes too; an entry over
it fails alone, listed in `Failed`, and the others are sent (AWS's answer in
localstack/localstack#8570: one entry in Successful, the oversized one in Failed), with
SendMessage's code and message (SenderFault: the caller's). moto refuses the whole request
when an entry is too long in characters, and lets it through when only its bytes are.
(These are the botocore 1.44 service model's texts of the SQS API reference.)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Mapping
from typing import Any

from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error

BATCH_LIMIT = 1_048_576
QUERY_ENTRY = re.compile(r"^SendMessageBatchRequestEntry\.(\d+)\.(.+)$")
QUERY_ATTRIBUTE = re.compile(r"^MessageAttribute\.(\d+)\.(Name|Value\.DataType|Value\.\w+)$")


def attribute_bytes(name: str, attribute: Mapping[str, Any]) -> int:
    value: Any = attribute.get("StringValue")
    if value is None and attribute.get("BinaryValue") is not None:
        value = attribute["BinaryValue"]  # base64 on the wire, counted as the bytes it carries
        with contextlib.suppress(binascii.Error, ValueError):
            value = base64.b64decode(str(value), validate=True)
    raw = value if isinstance(value, bytes) else str(value or "").encode()
    return len(name.encode()) + len(str(attribute.get("DataType", "")).encode()) + len(raw)


def message_bytes(message: Mapping[str, Any]) -> int:
    """A message's size as SQS counts it: {"MessageBody": ..., "MessageAttributes": ...}."""
    attributes = message.get("MessageAttributes") or {}
    return len(str(message.get("MessageBody", "")).encode()) + sum(
        attribute_bytes(str(n), a) for n, a in attributes.items()
    )


def _from_query(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A message from the query protocol's flat fields (MessageAttribute.1.Value.StringValue)."""
    named: dict[str, dict[str, Any]] = {}
    for key, value in fields.items():
        match = QUERY_ATTRIBUTE.match(key)
        if match:
            named.setdefault(match[1], {})[match[2].removeprefix("Value.")] = value
    attributes = {str(a.pop("Name", "")): a for a in named.values()}
    return {"MessageBody": fields.get("MessageBody", ""), "MessageAttributes": attributes}


def messages(call: Call) -> list[dict[str, Any]]:
    """The messages a SendMessage or SendMessageBatch call carries, in either protocol."""
    p = call.params
    if call.operation == "SendMessage":
        return [p if call.protocol == "json" else _from_query(p)]
    if call.protocol == "json":
        return [e for e in p.get("Entries") or [] if isinstance(e, dict)]
    entries: dict[str, dict[str, Any]] = {}
    for key, value in p.items():
        match = QUERY_ENTRY.match(key)
        if match:
            entries.setdefault(match[1], {})[match[2]] = value
    return [_from_query(fields) for fields in entries.values()]


def too_long(maximum: int) -> str:
    return (
        f"One or more parameters are invalid. Reason: Message must be shorter than {maximum} bytes."
    )


def entry_failure(entry: Mapping[str, Any], maximum: int) -> dict[str, Any] | None:
    """The `Failed` item for a batch entry over the queue's maximum, or None."""
    if message_bytes(entry) <= maximum:
        return None
    return {
        "Id": entry["Id"],
        "SenderFault": True,
        "Code": "InvalidParameterValue",
        "Message": too_long(maximum),
    }


def size_refusal(call: Call, maximum: int) -> Reply | None:
    """SQS's answer to a message (or batch) over its size, or None. `maximum`: the queue's
    MaximumMessageSize."""
    if call.operation == "SendMessage":
        if message_bytes(messages(call)[0]) > maximum:
            return error(call, 400, "InvalidParameterValue", too_long(maximum))
    elif call.operation == "SendMessageBatch":
        total = sum(message_bytes(m) for m in messages(call))
        if total > BATCH_LIMIT:
            return error(
                call,
                400,
                "BatchRequestTooLong",
                f"Batch requests cannot be longer than {BATCH_LIMIT} bytes. "
                f"You have sent {total} bytes.",
            )
    return None
