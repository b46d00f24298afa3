"""AWS::SQS::Queue and AWS::SQS::QueuePolicy (CloudFormation Template Reference)."""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

from pocctl.local.cloudformation.providers import Made, Provider, Request, as_json, delete_quietly
from pocctl.local.cloudformation.system_tags import gets_stack_tags

# The queue's properties that are queue attributes, by the same name (Template Reference,
# "AWS::SQS::Queue": "the property names ... match the SQS attribute names").
ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return as_json(value)
    return str(value)


class Queue:
    stack_tags = gets_stack_tags("AWS::SQS::Queue")

    def create(self, request: Request) -> Made:
        sqs = request.client("sqs")
        props = request.properties
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        name = request.name("QueueName", 80 - (5 if fifo else 0))
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = {key: attribute_value(props[key]) for key in ATTRIBUTES if key in props}
        extra: dict[str, Any] = {"tags": request.tag_map()} if request.all_tags() else {}
        url = sqs.create_queue(QueueName=name, Attributes=attributes, **extra)["QueueUrl"]
        arn = f"arn:aws:sqs:{request.region}:{request.account}:{name}"
        return Made(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def delete(self, request: Request, made: Made) -> None:
        sqs = request.client("sqs")
        delete_quietly(lambda: sqs.delete_queue(QueueUrl=made.physical_id))


class QueuePolicy:
    """Sets the Policy attribute of each queue it names; deleting it empties them."""

    stack_tags = False

    def create(self, request: Request) -> Made:
        sqs = request.client("sqs")
        document = as_json(request.properties["PolicyDocument"])
        for url in request.properties["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": document})
        digest = hashlib.sha1(document.encode()).hexdigest()[:12]
        return Made(f"{request.stack_name}-{request.logical_id}-{digest}")

    def delete(self, request: Request, made: Made) -> None:
        sqs = request.client("sqs")
        for url in request.properties["Queues"]:
            delete_quietly(
                partial(sqs.set_queue_attributes, QueueUrl=url, Attributes={"Policy": ""})
            )


PROVIDERS: dict[str, Provider] = {
    "AWS::SQS::Queue": Queue(),
    "AWS::SQS::QueuePolicy": QueuePolicy(),
}
