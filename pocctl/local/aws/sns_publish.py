"""What SNS refuses in Publish and PublishBatch that moto lets through.

- A message is at most 262,144 bytes, "not 262,144 characters", counting its message attributes
  (SNS API reference, Publish, Message: "Amazon SNS validates the combined size of the message
  body and message attributes"): over it, InvalidParameter "Invalid parameter: Message too long".
  An attribute counts its name, its data type and its value, as AWS measured it
  (localstack/localstack tests/aws/services/sns/test_sns.py `test_publish_too_long_message`,
  recorded against AWS). moto counts characters and leaves the attributes out.
  The limit is the topic's `MaximumMessageSize` where it has one: "When you publish to a topic,
  the maximum size is determined by the topic's MaximumMessageSize attribute, which supports
  values up to 1 MiB" (SNS API reference, Publish, Message; SetTopicAttributes: 1024 to
  1048576, default 262144). moto keeps the attribute and ignores it.
- A PublishBatch request carries 1 to 10 entries and at most 256 KiB in all, or the topic's
  `MaximumMessageSize` ("The combined size of all messages in the batch ... must not exceed the
  topic's MaximumMessageSize") (SNS API reference,
  PublishBatch: EmptyBatchRequest "The batch request doesn't contain any entries.",
  TooManyEntriesInBatchRequest, BatchEntryIdsNotDistinct, BatchRequestTooLong "The length of
  all the messages put together is more than the limit.", worded as AWS answered in localstack's
  `test_publish_batch_too_long_message` and `test_publish_batch_exceptions`). moto publishes an
  empty batch and counts no total.
- A Subject is refused, InvalidParameter "Invalid parameter: Subject", when empty (AWS's answer
  recorded in localstack's `test_publish_with_empty_subject`; wellcomecollection/platform#1107),
  longer than 100 characters (AWS refuses 101 and takes 100: getmoto/moto#1503, though the API
  reference says "less than 100"), or with line breaks or control characters (SNS API reference,
  Publish, Subject). In PublishBatch the entry is listed in `Failed` (SenderFault) and the others
  are published (PublishBatchResultErrorEntry; floci-io/floci#992); moto's check raised an
  error that its batch loop dropped, so the entry was in neither list.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import unicodedata
from collections.abc import Mapping
from typing import Any

MESSAGE_LIMIT = 262_144  # bytes, per message and per PublishBatch request, unless the topic says
BATCH_ENTRIES = 10
SUBJECT_LIMIT = 100
INVALID_SUBJECT = "Invalid parameter: Subject"
TOO_LONG = "Invalid parameter: Message too long"
EMPTY_BATCH = "The batch request doesn't contain any entries."
TOO_MANY = "The batch request contains more entries than permissible."
NOT_DISTINCT = "Two or more batch entries in the request have the same Id."
BATCH_TOO_LONG = "The length of all the messages put together is more than the limit."
LINE_BREAKS = frozenset("\u2028\u2029")  # besides \n and \r, which are control characters


def subject_refused(subject: str | None) -> bool:
    if subject is None:
        return False
    if subject == "" or len(subject) > SUBJECT_LIMIT:
        return True
    return any(unicodedata.category(c) == "Cc" or c in LINE_BREAKS for c in subject)


def attribute_size(name: str, attribute: Mapping[str, Any]) -> int:
    """Bytes of an attribute as moto hands it on ({"Type": ..., "Value": ...}; a binary value
    is base64)."""
    data_type = str(attribute.get("Type") or attribute.get("DataType") or "")
    value = attribute.get("Value", "")
    if data_type.startswith("Binary") and isinstance(value, str):
        with contextlib.suppress(binascii.Error, ValueError):
            value = base64.b64decode(value, validate=True)
    raw = value if isinstance(value, bytes) else str(value).encode()
    return len(name.encode()) + len(data_type.encode()) + len(raw)


def publish_size(message: str | None, attributes: Mapping[str, Any] | None) -> int:
    size = len((message or "").encode())
    return size + sum(attribute_size(n, a) for n, a in (attributes or {}).items())


def topic_limit(topic: Any) -> int:
    """The topic's MaximumMessageSize in bytes (moto keeps it as given, a string)."""
    return int(getattr(topic, "maximum_message_size", None) or MESSAGE_LIMIT)


def publish_refusal(
    message: str | None,
    subject: str | None,
    attributes: Mapping[str, Any] | None,
    limit: int = MESSAGE_LIMIT,
) -> str | None:
    """Why SNS refuses this message (InvalidParameter), or None; `limit`: the topic's."""
    if subject_refused(subject):
        return INVALID_SUBJECT
    if publish_size(message, attributes) > limit:
        return TOO_LONG
    return None


def batch_refusal(
    entries: list[dict[str, Any]], limit: int = MESSAGE_LIMIT
) -> tuple[str, str] | None:
    """(code, message) for a PublishBatch request SNS refuses whole, or None."""
    if not entries:
        return "EmptyBatchRequest", EMPTY_BATCH
    if len(entries) > BATCH_ENTRIES:
        return "TooManyEntriesInBatchRequest", TOO_MANY
    ids = [str(e.get("Id")) for e in entries]
    if len(set(ids)) != len(ids):
        return "BatchEntryIdsNotDistinct", NOT_DISTINCT
    total = sum(publish_size(e.get("Message"), e.get("MessageAttributes")) for e in entries)
    if total > limit:
        return "BatchRequestTooLong", BATCH_TOO_LONG
    return None
