"""SNS as `pocctl local` acts it out: delivery to SQS through the queue's policy, sizes in bytes,
PublishBatch's refusals, and what the notifier publishes meeting them."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from pocctl.local.emulator import Emulator

from .clocked import Clock, client, fixtures

clock, emulator = fixtures()


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def sns_may_send(queue_arn: str, topic_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


def subscribed_queue(
    emulator: Emulator, clock: Clock, topic: str, name: str, policy_for: str | None
) -> str:
    """A queue subscribed (raw) to the topic, its policy letting `policy_for`'s SNS send."""
    sqs, sns = client(emulator, "sqs"), client(emulator, "sns")
    arn = f"arn:aws:sqs:us-east-1:123456789012:{name}"
    attributes = {"Policy": sns_may_send(arn, policy_for)} if policy_for else {}
    url = str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        == arn
    )
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )
    clock.advance("queue_new")
    return url


def bodies(emulator: Emulator, url: str) -> list[str]:
    answer = client(emulator, "sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [m["Body"] for m in answer.get("Messages", [])]


# -- 1. SNS to SQS through the queue's policy --------------------------------------------------


def test_sns_delivers_only_to_a_queue_whose_policy_lets_this_topic_send(
    emulator: Emulator, clock: Clock
) -> None:
    sns = client(emulator, "sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    other = sns.create_topic(Name="other")["TopicArn"]
    allowed = subscribed_queue(emulator, clock, topic, "allowed", policy_for=topic)
    no_policy = subscribed_queue(emulator, clock, topic, "no-policy", policy_for=None)
    for_other = subscribed_queue(emulator, clock, topic, "for-other", policy_for=other)
    logged: list[str] = []
    emulator.sqs_delivery.log = logged.append

    sns.publish(TopicArn=topic, Message="order 1")  # SNS accepts it whatever the queues say

    assert bodies(emulator, allowed) == ["order 1"]
    assert bodies(emulator, no_policy) == []
    assert bodies(emulator, for_other) == []
    assert len(logged) == 2 and all("does not allow sns.amazonaws.com" in line for line in logged)


# -- 2, 3. SNS: sizes in bytes, PublishBatch's refusals, Subject ---------------------------------

ONE_KIB_OF_EURO = "€" * 342  # 3 bytes each: 1,026 bytes in 342 characters


def test_sns_counts_a_message_in_bytes_with_its_attributes(emulator: Emulator) -> None:
    sns = client(emulator, "sns")
    topic = sns.create_topic(Name="sizes")["TopicArn"]
    multibyte = "€" * 90_000  # 90,000 characters, 270,000 bytes
    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=topic, Message=multibyte)
    assert code_of(refused) == "InvalidParameter"
    assert refused.value.response["Error"]["Message"] == "Invalid parameter: Message too long"
    attributes = {"a": {"DataType": "String", "StringValue": "1"}}  # 1 + 6 + 1 bytes
    with pytest.raises(ClientError):
        sns.publish(TopicArn=topic, Message="x" * (262_144 - 7), MessageAttributes=attributes)
    sns.publish(TopicArn=topic, Message="x" * (262_144 - 8), MessageAttributes=attributes)


def test_sns_holds_a_message_to_the_topics_maximum_message_size(emulator: Emulator) -> None:
    sns = client(emulator, "sns")
    small = sns.create_topic(Name="small", Attributes={"MaximumMessageSize": "1024"})["TopicArn"]
    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=small, Message=ONE_KIB_OF_EURO)  # 342 characters, 1,026 bytes
    assert refused.value.response["Error"]["Message"] == "Invalid parameter: Message too long"
    with pytest.raises(ClientError) as refused:
        sns.publish_batch(
            TopicArn=small, PublishBatchRequestEntries=[{"Id": "1", "Message": ONE_KIB_OF_EURO}]
        )
    assert code_of(refused) == "BatchRequestTooLong"
    sns.publish(TopicArn=small, Message="€" * 341)  # 1,023 bytes
    large = sns.create_topic(Name="large")["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=large, AttributeName="MaximumMessageSize", AttributeValue="1048576"
    )
    sns.publish(TopicArn=large, Message="€" * 90_000)  # 270,000 bytes: over the default


def test_publish_batch_refuses_an_empty_a_long_or_a_crowded_batch(emulator: Emulator) -> None:
    sns = client(emulator, "sns")
    topic = sns.create_topic(Name="batches")["TopicArn"]
    refusals = {
        "EmptyBatchRequest": [],
        "TooManyEntriesInBatchRequest": [{"Id": str(i), "Message": "m"} for i in range(11)],
        "BatchEntryIdsNotDistinct": [{"Id": "1", "Message": "a"}, {"Id": "1", "Message": "b"}],
        "BatchRequestTooLong": [  # 2 x 45,000 characters, 270,000 bytes in all
            {"Id": "1", "Message": "€" * 45_000},
            {"Id": "2", "Message": "€" * 45_000},
        ],
    }
    for code, entries in refusals.items():
        with pytest.raises(ClientError) as refused:
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert code_of(refused) == code
    answer = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[{"Id": "1", "Message": "€" * 43_690}],  # 262,070 bytes
    )
    assert [s["Id"] for s in answer["Successful"]] == ["1"] and answer["Failed"] == []


@pytest.mark.parametrize(
    "subject", ["", "x" * 101, "two\nlines", "tab\there", "bell\x07"], ids=repr
)
def test_an_invalid_subject_is_refused_alone_and_a_batch_lists_it_as_failed(
    emulator: Emulator, clock: Clock, subject: str
) -> None:
    sns = client(emulator, "sns")
    topic = sns.create_topic(Name="subjects")["TopicArn"]
    inbox = subscribed_queue(emulator, clock, topic, "inbox", policy_for=topic)
    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=topic, Message="alone", Subject=subject)
    assert code_of(refused) == "InvalidParameter"
    assert refused.value.response["Error"]["Message"] == "Invalid parameter: Subject"
    answer = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "bad", "Message": "refused", "Subject": subject},
            {"Id": "good", "Message": "published", "Subject": "x" * 100},
        ],
    )
    assert [s["Id"] for s in answer["Successful"]] == ["good"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in answer["Failed"]] == [
        ("bad", "InvalidParameter", True)
    ]
    assert bodies(emulator, inbox) == ["published"]


# -- 2. SQS: sizes in bytes ------------------------------------------------------------------


def test_sqs_counts_a_message_in_bytes_with_its_attributes(
    emulator: Emulator, clock: Clock
) -> None:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="sized")["QueueUrl"]
    clock.advance("queue_new")
    with pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=url, MessageBody="€" * 350_000)  # 1,050,000 bytes
    assert code_of(refused) == "InvalidParameterValue"
    assert refused.value.response["Error"]["Message"] == (
        "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
    )
    attributes = {"a": {"DataType": "String", "StringValue": "€"}}  # 1 + 6 + 3 bytes
    with pytest.raises(ClientError):
        sqs.send_message(
            QueueUrl=url, MessageBody="x" * (1_048_576 - 9), MessageAttributes=attributes
        )
    sqs.send_message(QueueUrl=url, MessageBody="x" * (1_048_576 - 10), MessageAttributes=attributes)


def test_sqs_refuses_a_batch_over_one_mib_in_bytes(emulator: Emulator, clock: Clock) -> None:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="batched")["QueueUrl"]
    clock.advance("queue_new")
    entries = [{"Id": str(i), "MessageBody": "€" * 100_000} for i in range(4)]  # 1,200,000 B
    with pytest.raises(ClientError) as refused:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert code_of(refused) == "AWS.SimpleQueueService.BatchRequestTooLong"
    assert "You have sent 1200000 bytes." in refused.value.response["Error"]["Message"]
    assert client(emulator, "sqs").receive_message(QueueUrl=url).get("Messages", []) == []
    sent = sqs.send_message_batch(QueueUrl=url, Entries=entries[:3])  # 900,000 bytes
    assert len(sent["Successful"]) == 3


def test_sqs_fails_alone_a_batch_entry_over_the_queues_maximum_in_bytes(
    emulator: Emulator, clock: Clock
) -> None:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    clock.advance("queue_new")
    entries = [
        {"Id": "euros", "MessageBody": "€" * 400},  # 400 characters, 1,200 bytes
        {"Id": "plain", "MessageBody": "fits"},
        {"Id": "long", "MessageBody": "x" * 1025},  # moto refused the whole request for it
    ]
    answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert [s["Id"] for s in answer["Successful"]] == ["plain"]
    too_long = (
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
    )
    assert answer["Failed"] == [
        {"Id": name, "SenderFault": True, "Code": "InvalidParameterValue", "Message": too_long}
        for name in ("euros", "long")
    ]
    assert bodies(emulator, url) == ["fits"]


def test_sqs_sizes_read_the_query_protocols_flat_fields_too() -> None:
    from pocctl.local.aws.sqs_sizes import message_bytes, messages
    from pocctl.local.calls import Call

    call = Call(
        service="sqs",
        operation="SendMessageBatch",
        params={
            "SendMessageBatchRequestEntry.1.Id": "a",
            "SendMessageBatchRequestEntry.1.MessageBody": "€€",
            "SendMessageBatchRequestEntry.1.MessageAttribute.1.Name": "k",
            "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType": "String",
            "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue": "v",
            "SendMessageBatchRequestEntry.2.Id": "b",
            "SendMessageBatchRequestEntry.2.MessageBody": "x",
        },
        region="us-east-1",
        access_key="user",
        protocol="query",
    )
    assert [message_bytes(m) for m in messages(call)] == [6 + 1 + 6 + 1, 1]


# -- 4. What the notifier publishes meets SNS's rules ------------------------------------------


def test_the_notifiers_batches_of_hostile_orders_are_all_published(
    emulator: Emulator, clock: Clock
) -> None:
    import sys

    from pocctl.code.bundle import bundled_dir

    sys.path.insert(0, str(bundled_dir("handlers")))
    import order_notifier  # type: ignore[import-not-found]

    sns = client(emulator, "sns")
    topic = sns.create_topic(Name="notified")["TopicArn"]
    inbox = subscribed_queue(emulator, clock, topic, "notified-inbox", policy_for=topic)
    orders = [
        {"orderID": "\n\t", "item": ""},  # a Subject of control characters, once cleaned
        {"orderID": "o-2", "item": "line\nbreak\r\x07 and €uro ✓ " + "é" * 300},
        {"orderID": "o-3", "item": "huge", "notes": "€" * 100_000},  # 300 KB: cut to fit
        *({"orderID": f"o-{n}", "item": "€" * 20_000} for n in range(4, 14)),  # 60 KB each
    ]
    rendered = [(str(n), order_notifier.entry(o, "orders")) for n, o in enumerate(orders)]
    published = 0
    for batch in order_notifier.batches(rendered):
        entries = [{"Id": str(i), **e} for i, (_, e) in enumerate(batch)]
        answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert answer["Failed"] == []
        published += len(answer["Successful"])
    assert published == len(orders)
    received = 0
    while (
        batch := client(emulator, "sqs")
        .receive_message(QueueUrl=inbox, MaxNumberOfMessages=10, VisibilityTimeout=60)
        .get("Messages")
    ):
        received += len(batch)
    assert received == len(orders)
