"""AWS::SNS::Topic and AWS::SNS::Subscription (CloudFormation Template Reference)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pocctl.local.cloudformation.providers import Made, Provider, Request, as_json, delete_quietly

TOPIC_ATTRIBUTES = (
    "DisplayName",
    "KmsMasterKeyId",
    "FifoTopic",
    "ContentBasedDeduplication",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
)
SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "ReplayPolicy",
    "SubscriptionRoleArn",
)


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return as_json(value) if isinstance(value, dict | list) else str(value)


class Topic:
    stack_tags = True

    def create(self, request: Request) -> Made:
        sns = request.client("sns")
        props = request.properties
        name = request.name("TopicName", 256)
        attributes = {key: text(props[key]) for key in TOPIC_ATTRIBUTES if key in props}
        extra: dict[str, Any] = {"Tags": request.all_tags()} if request.all_tags() else {}
        arn = sns.create_topic(Name=name, Attributes=attributes, **extra)["TopicArn"]
        for subscription in props.get("Subscription") or []:
            sns.subscribe(
                TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"]
            )
        return Made(arn, {"TopicArn": arn, "TopicName": name})

    def delete(self, request: Request, made: Made) -> None:
        sns = request.client("sns")
        delete_quietly(lambda: sns.delete_topic(TopicArn=made.physical_id))


class Subscription:
    stack_tags = False

    def create(self, request: Request) -> Made:
        sns = request.client("sns")
        props = request.properties
        attributes = {key: text(props[key]) for key in SUBSCRIPTION_ATTRIBUTES if key in props}
        arn = sns.subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Made(arn)

    def delete(self, request: Request, made: Made) -> None:
        """SNS refuses to unsubscribe a subscription pending confirmation; CloudFormation skips
        it and reports the deletion complete, SNS expiring it later (go-to-k/cdkd#1301,
        "CloudFormation handles this case by skipping the deletion and reporting success")."""
        sns = request.client("sns")
        try:
            delete_quietly(lambda: sns.unsubscribe(SubscriptionArn=made.physical_id))
        except ClientError as error:
            if "pending confirmation" not in str(error):
                raise


PROVIDERS: dict[str, Provider] = {
    "AWS::SNS::Topic": Topic(),
    "AWS::SNS::Subscription": Subscription(),
}
