"""The Lambda handlers, run in-process against moto."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from pocctl.code.bundle import bundled_dir

sys.path.insert(0, str(bundled_dir("handlers")))
import order_notifier  # type: ignore[import-not-found]
import order_writer  # type: ignore[import-not-found]

TOPIC = "arn:aws:sns:us-east-1:123456789012:orders-topic"


@pytest.fixture
def table(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("TABLE_NAME", "orders")
    monkeypatch.setattr(order_writer, "_table", None)
    monkeypatch.setattr(order_notifier, "_dynamodb", None)
    ddb = boto3.resource("dynamodb")
    yield ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "orderID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def sqs_record(
    message_id: str,
    body: str,
    sent_ms: int = 1_700_000_000_000,
    *,
    order_id: str | None = None,
    received_ms: int = 1_700_000_000_000,
) -> dict[str, Any]:
    """A record as Lambda delivers it; with order_id, as the API queues an order: in an
    envelope with the order's id and the time the API took it."""
    if order_id is not None:
        envelope = {"orderID": order_id, "receivedAt": received_ms, "order": json.loads(body)}
        body = json.dumps(envelope)
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"SentTimestamp": str(sent_ms), "ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs",
    }


def logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_a_body_without_an_envelope_is_stored_under_its_message_id(table: Any, capsys) -> None:  # type: ignore[no-untyped-def]
    order = {"item": "latex gloves", "customerID": "12345", "quantity": 2.5}
    result = order_writer.handler({"Records": [sqs_record("m-1", json.dumps(order))]}, None)
    assert result == {"batchItemFailures": []}
    row = table.get_item(Key={"orderID": "m-1"})["Item"]
    assert row["item"] == "latex gloves" and row["customerID"] == "12345"
    assert str(row["quantity"]) == "2.5"
    assert row["receivedAt"] == "2023-11-14T22:13:20.000Z"
    assert logged(capsys) == [{"event": "order_stored", "orderID": "m-1", "item": "latex gloves"}]


def test_writer_stores_the_order_under_the_id_the_client_got(table: Any, capsys) -> None:  # type: ignore[no-untyped-def]
    # A client may put its own orderID and receivedAt in the order: the API's win.
    order = '{"item": "mop", "orderID": "mine", "receivedAt": "then"}'
    record = sqs_record(
        "m-1", order, 1_700_000_005_000, order_id="KXWg9H7+IAMFQ6w=", received_ms=1_700_000_000_000
    )
    assert order_writer.handler({"Records": [record]}, None) == {"batchItemFailures": []}
    (row,) = table.scan()["Items"]
    assert row["orderID"] == "KXWg9H7+IAMFQ6w=" and row["item"] == "mop"
    assert row["receivedAt"] == "2023-11-14T22:13:20.000Z"  # when the API took it
    assert logged(capsys)[-1]["orderID"] == "KXWg9H7+IAMFQ6w="


def test_a_redriven_order_already_stored_is_not_stored_again(table: Any, capsys) -> None:  # type: ignore[no-untyped-def]
    """Its batch failed after its row was written; SQS dead-lettered it, and the redrive made it
    a new message with a new message id and SentTimestamp (SQS Developer Guide)."""
    first = sqs_record("m-1", '{"item": "mop"}', order_id="o-1", received_ms=1_700_000_000_000)
    order_writer.handler({"Records": [first]}, None)
    redriven = sqs_record(
        "m-2", '{"item": "mop"}', 1_800_000_000_000, order_id="o-1", received_ms=1_700_000_000_000
    )
    assert order_writer.handler({"Records": [redriven]}, None) == {"batchItemFailures": []}
    (row,) = table.scan()["Items"]
    assert row["orderID"] == "o-1" and row["receivedAt"] == "2023-11-14T22:13:20.000Z"
    assert logged(capsys)[-1] == {"event": "order_already_stored", "orderID": "o-1"}


def test_an_envelope_whose_order_is_not_one_is_a_failure(table: Any) -> None:
    record = sqs_record("m-1", '["mop"]', order_id="o-1")
    assert order_writer.handler({"Records": [record]}, None) == {
        "batchItemFailures": [{"itemIdentifier": "m-1"}]
    }


def test_a_redriven_order_never_stored_keeps_its_id_and_receipt_time(table: Any) -> None:
    redriven = sqs_record(
        "m-new", '{"item": "mop"}', 1_800_000_000_000, order_id="o-2", received_ms=1_700_000_000_000
    )
    order_writer.handler({"Records": [redriven]}, None)
    (row,) = table.scan()["Items"]
    assert row["orderID"] == "o-2" and row["receivedAt"] == "2023-11-14T22:13:20.000Z"


def test_a_redelivered_message_does_not_create_a_second_row_or_overwrite(
    table: Any, capsys
) -> None:  # type: ignore[no-untyped-def]
    order_writer.handler({"Records": [sqs_record("m-1", '{"item": "first"}')]}, None)
    again = order_writer.handler({"Records": [sqs_record("m-1", '{"item": "changed"}')]}, None)
    assert again == {"batchItemFailures": []}
    assert table.scan()["Count"] == 1
    assert table.get_item(Key={"orderID": "m-1"})["Item"]["item"] == "first"
    assert logged(capsys)[-1] == {"event": "order_already_stored", "orderID": "m-1"}


def test_only_records_that_cannot_be_stored_are_reported_as_failures(table: Any) -> None:
    records = [
        sqs_record("good-1", '{"item": "mop"}'),
        sqs_record("not-json", "item=mop"),
        sqs_record("no-item", '{"customerID": "1"}'),
        sqs_record("not-object", '["mop"]'),
        sqs_record("good-2", '{"item": "bucket"}'),
    ]
    result = order_writer.handler({"Records": records}, None)
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "not-json"},
            {"itemIdentifier": "no-item"},
            {"itemIdentifier": "not-object"},
        ]
    }
    assert sorted(i["orderID"] for i in table.scan()["Items"]) == ["good-1", "good-2"]


def test_when_the_table_is_unreachable_every_record_is_retried(table: Any) -> None:
    table.delete()
    result = order_writer.handler({"Records": [sqs_record("a", '{"item": "x"}')]}, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "a"}]}


def test_special_characters_are_stored_exactly(table: Any) -> None:
    item = "gloves & soap = 100% + 'extra' \"strong\" — savon à l'été 🧤"
    order_writer.handler({"Records": [sqs_record("m", json.dumps({"item": item}))]}, None)
    assert table.get_item(Key={"orderID": "m"})["Item"]["item"] == item


# -- Lambda-2 ---------------------------------------------------------------------------------


@pytest.fixture
def inbox(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A queue subscribed to the topic with raw delivery: what reached SNS subscribers."""
    monkeypatch.setenv("TOPIC_ARN", TOPIC)
    monkeypatch.setattr(order_notifier, "_sns", None)
    monkeypatch.setattr(order_notifier, "_dynamodb", None)
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    sns.create_topic(Name="orders-topic")
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=TOPIC, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )

    def received() -> list[str]:
        bodies: list[str] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            bodies += [m["Body"] for m in batch]
            for m in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return bodies

    yield received


def stream_record(event: str, order: dict[str, Any], sequence: str) -> dict[str, Any]:
    serializer = TypeSerializer()
    image = {k: serializer.serialize(v) for k, v in order.items()}
    record: dict[str, Any] = {
        "eventName": event,
        "dynamodb": {"Keys": {"orderID": image["orderID"]}, "SequenceNumber": sequence},
    }
    if event != "REMOVE":
        record["dynamodb"]["NewImage"] = image
    return record


STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"


def read_from_stream(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "eventSourceARN": STREAM}


def test_an_order_read_again_from_the_stream_is_notified_once(
    inbox: Any, table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # A stream mapping made again reads the stream from its start: orders notified before are
    # skipped, an order stored meanwhile is notified, and each row says it was.
    old, new = {"orderID": "o-old", "item": "gloves"}, {"orderID": "o-new", "item": "masks"}
    table.put_item(Item=old)
    first = [read_from_stream(stream_record("INSERT", old, "100"))]
    assert order_notifier.handler({"Records": first}, None) == {"batchItemFailures": []}
    table.put_item(Item=new)
    again = [*first, read_from_stream(stream_record("INSERT", new, "300"))]
    assert order_notifier.handler({"Records": again}, None) == {"batchItemFailures": []}
    messages = inbox()
    assert [m.count("o-old") > 0 for m in messages] == [True, False]
    assert "o-new" in messages[1]
    assert order_notifier.handler({"Records": again}, None) == {"batchItemFailures": []}
    assert inbox() == []
    for order_id in ("o-old", "o-new"):
        assert "notifiedAt" in table.get_item(Key={"orderID": order_id})["Item"]
    assert [line["event"] for line in logged(capsys)].count("order_already_notified") == 3


def test_an_order_whose_publish_failed_is_not_marked_and_is_notified_on_retry(
    inbox: Any, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table.put_item(Item={"orderID": "o-1", "item": "x"})
    records = [read_from_stream(stream_record("INSERT", {"orderID": "o-1", "item": "x"}, "7"))]
    monkeypatch.setattr(order_notifier, "_sns", RecordingSns(fail=True))
    failed = order_notifier.handler({"Records": records}, None)
    assert failed == {"batchItemFailures": [{"itemIdentifier": "7"}]}
    assert "notifiedAt" not in table.get_item(Key={"orderID": "o-1"})["Item"]
    monkeypatch.setattr(order_notifier, "_sns", None)
    assert order_notifier.handler({"Records": records}, None) == {"batchItemFailures": []}
    assert len(inbox()) == 1


def test_an_order_deleted_before_its_notification_is_notified_and_not_written_back(
    inbox: Any, table: Any
) -> None:
    records = [read_from_stream(stream_record("INSERT", {"orderID": "gone", "item": "x"}, "1"))]
    assert order_notifier.handler({"Records": records}, None) == {"batchItemFailures": []}
    assert len(inbox()) == 1
    assert "Item" not in table.get_item(Key={"orderID": "gone"})


def check_fails_with(code: str) -> Any:
    def check(table: str, keys: dict[str, Any]) -> bool:
        raise ClientError({"Error": {"Code": code, "Message": code}}, "GetItem")

    return check


def test_when_the_check_is_refused_the_order_is_notified_all_the_same(
    inbox: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # At least once: a check refused every time (a boundary an administrator has not yet updated
    # for it) must not hold notifications back until the stream gives up on them.
    monkeypatch.setattr(order_notifier, "already_notified", check_fails_with("AccessDenied"))
    records = [read_from_stream(stream_record("INSERT", {"orderID": "o-1", "item": "x"}, "5"))]
    assert order_notifier.handler({"Records": records}, None) == {"batchItemFailures": []}
    assert len(inbox()) == 1
    assert "notified_check_failed" in [line["event"] for line in logged(capsys)]


def test_when_the_check_fails_in_passing_the_record_is_read_again_not_notified_blind(
    inbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Throttled while a re-made mapping replays the day: notifying blind would notify again the
    # orders that were notified already; the stream delivers the record again instead.
    records = [read_from_stream(stream_record("INSERT", {"orderID": "o-1", "item": "x"}, "5"))]
    for code in ("ProvisionedThroughputExceededException", "ThrottlingException"):
        monkeypatch.setattr(order_notifier, "already_notified", check_fails_with(code))
        failed = order_notifier.handler({"Records": records}, None)
        assert failed == {"batchItemFailures": [{"itemIdentifier": "5"}]}
    assert inbox() == []


def test_only_new_orders_are_notified(inbox: Any) -> None:
    order = {"orderID": "o-1", "item": "latex gloves", "customerID": "12345"}
    records = [
        stream_record("INSERT", order, "100"),
        stream_record("MODIFY", {**order, "item": "changed"}, "101"),
        stream_record("REMOVE", order, "102"),
    ]
    assert order_notifier.handler({"Records": records}, None) == {"batchItemFailures": []}
    (message,) = inbox()
    assert "o-1" in message and "latex gloves" in message and "changed" not in message


def test_notification_is_readable_and_carries_the_order() -> None:
    order = {
        "orderID": "o-7",
        "item": "latex gloves",
        "customerID": "12345",
        "receivedAt": "2026-01-01T00:00:00.000Z",
        "note": "leave at door",
    }
    text = order_notifier.message(order)
    assert "Order ID:    o-7" in text
    assert "Item:        latex gloves" in text
    assert "Customer ID: 12345" in text
    assert '  note: "leave at door"' in text
    assert json.loads(text.splitlines()[-1]) == order
    assert order_notifier.subject(order) == "New order o-7: latex gloves"


def test_subject_is_ascii_single_line_and_under_the_sns_limit() -> None:
    subject = order_notifier.subject({"orderID": "o", "item": "savon à l'été\n🧤" + "x" * 200})
    assert subject.isascii() and "\n" not in subject
    assert len(subject) < 100
    assert subject.startswith("New order o: savon a l'ete ")


class RecordingSns:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[int] = []
        self.fail = fail

    def publish_batch(self, TopicArn: str, PublishBatchRequestEntries: list[Any]) -> Any:
        if self.fail:
            raise RuntimeError("SNS is down")
        self.batches.append(len(PublishBatchRequestEntries))
        return {"Successful": [{"Id": e["Id"]} for e in PublishBatchRequestEntries], "Failed": []}


def test_notifications_are_published_ten_per_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOPIC_ARN", TOPIC)
    sns = RecordingSns()
    monkeypatch.setattr(order_notifier, "_sns", sns)
    records = [
        stream_record("INSERT", {"orderID": f"o-{i}", "item": "x"}, str(i)) for i in range(25)
    ]
    order_notifier.handler({"Records": records}, None)
    assert sns.batches == [10, 10, 5]


def test_all_25_notifications_reach_subscribers(inbox: Any) -> None:
    records = [
        stream_record("INSERT", {"orderID": f"o-{i}", "item": "x"}, str(i)) for i in range(25)
    ]
    order_notifier.handler({"Records": records}, None)
    assert len(inbox()) == 25


def test_failed_publishes_are_reported_so_the_stream_retries_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOPIC_ARN", TOPIC)
    monkeypatch.setattr(order_notifier, "_sns", RecordingSns(fail=True))
    records = [
        stream_record("INSERT", {"orderID": f"o-{i}", "item": "x"}, str(i)) for i in range(3)
    ]
    result = order_notifier.handler({"Records": records}, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": s} for s in ("0", "1", "2")]}
    assert logged(capsys)[0]["event"] == "notify_failed"


def test_handlers_hard_code_no_arns() -> None:
    for module in (order_writer, order_notifier):
        assert isinstance(module, ModuleType)
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        assert "arn:aws" not in source


# The Lambda console's "dynamodb-update" test event (its sample, not an order).
CONSOLE_SAMPLE = {
    "Records": [
        {
            "eventID": "c4ca4238a0b923820dcc509a6f75849b",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": {"Id": {"N": "101"}},
                "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                "ApproximateCreationDateTime": 1428537600,
                "SequenceNumber": "4421584500000000017450439091",
                "SizeBytes": 26,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/"
            "ExampleTableWithStream/stream/2015-06-27T00:48:05.899",
        }
    ]
}


def test_a_record_that_cannot_be_rendered_fails_only_itself(
    inbox: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    good = stream_record("INSERT", {"orderID": "o-1", "item": "mop"}, "200")
    records = [CONSOLE_SAMPLE["Records"][0], good]
    assert order_notifier.handler({"Records": records}, None) == {"batchItemFailures": []}
    (message,) = inbox()
    assert "o-1" in message
    events = [line["event"] for line in logged(capsys)]
    assert events == ["order_unrenderable", "order_notified"]


def test_the_console_sample_event_does_not_crash_the_notifier(inbox: Any) -> None:
    assert order_notifier.handler(CONSOLE_SAMPLE, None) == {"batchItemFailures": []}
    assert inbox() == []


class SizedSns(RecordingSns):
    def publish_batch(self, TopicArn: str, PublishBatchRequestEntries: list[Any]) -> Any:
        sizes = [order_notifier.entry_size(e) for e in PublishBatchRequestEntries]
        assert len(sizes) <= 10 and sum(sizes) <= 256 * 1024
        assert all(size <= 256 * 1024 for size in sizes)
        return super().publish_batch(TopicArn, PublishBatchRequestEntries)


def test_batches_respect_snss_entry_count_and_size_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOPIC_ARN", TOPIC)
    sns = SizedSns()
    monkeypatch.setattr(order_notifier, "_sns", sns)
    big = "x" * 60_000  # five of these exceed 256 KiB
    records = [
        stream_record("INSERT", {"orderID": f"o-{i}", "item": "x", "note": big}, str(i))
        for i in range(12)
    ]
    assert order_notifier.handler({"Records": records}, None) == {"batchItemFailures": []}
    assert sum(sns.batches) == 12 and max(sns.batches) <= 4


def test_a_notification_too_large_is_cut_and_says_where_the_order_is(
    table: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOPIC_ARN", TOPIC)
    sent: list[Any] = []

    class Keeping(SizedSns):
        def publish_batch(self, TopicArn: str, PublishBatchRequestEntries: list[Any]) -> Any:
            sent.extend(PublishBatchRequestEntries)
            return super().publish_batch(TopicArn, PublishBatchRequestEntries)

    monkeypatch.setattr(order_notifier, "_sns", Keeping())
    record = stream_record("INSERT", {"orderID": "o-big", "item": "x", "note": "y" * 390_000}, "1")
    record["eventSourceARN"] = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/s"
    assert order_notifier.handler({"Records": [record]}, None) == {"batchItemFailures": []}
    (entry,) = sent
    assert order_notifier.entry_size(entry) <= 256 * 1024
    assert entry["Message"].endswith("The full order is row o-big of DynamoDB table orders.]")
    assert "notification_cut" in [line["event"] for line in logged(capsys)]


def test_an_order_too_large_for_dynamodb_is_logged_and_retried_to_the_dlq(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps({"item": "mop", "note": "z" * 420_000})
    result = order_writer.handler({"Records": [sqs_record("m-big", body)]}, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-big"}]}
    events = logged(capsys)
    assert events[0]["event"] == "order_too_large" and events[0]["orderID"] == "m-big"
    assert events[1]["event"] == "order_failed"
