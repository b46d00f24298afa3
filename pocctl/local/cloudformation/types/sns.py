"""AWS::SNS::Topic, AWS::SNS::Subscription and AWS::SNS::TopicInlinePolicy (CloudFormation
Template Reference)."""

from __future__ import annotations

import json
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


class TopicInlinePolicy:
    """ "Associates one Amazon SNS topic with one policy": the topic's Policy attribute. Ref is
    the topic's ARN. Deleting it gives the topic back SNS's default policy, the one CreateTopic
    sets (aws-cloudformation/aws-cloudformation-resource-providers-sns, aws-sns-topicinlinepolicy
    DeleteHandler: SetTopicAttributes with getDefaultPolicy)."""

    stack_tags = False

    def create(self, request: Request) -> Made:
        sns = request.client("sns")
        arn = request.properties["TopicArn"]
        document = as_json(request.properties["PolicyDocument"])
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=document)
        return Made(arn)

    def delete(self, request: Request, made: Made) -> None:
        sns = request.client("sns")
        default = json.dumps(default_policy(made.physical_id))
        delete_quietly(
            lambda: sns.set_topic_attributes(
                TopicArn=made.physical_id, AttributeName="Policy", AttributeValue=default
            )
        )


def default_policy(topic_arn: str) -> dict[str, Any]:
    """The policy CreateTopic gives a topic: its account's principals may use it (SNS Developer
    Guide, "Example cases for Amazon SNS access control", the default's __default_statement_ID
    conditioned on AWS:SourceOwner)."""
    account = topic_arn.split(":")[4]
    actions = [
        "SNS:GetTopicAttributes",
        "SNS:SetTopicAttributes",
        "SNS:AddPermission",
        "SNS:RemovePermission",
        "SNS:DeleteTopic",
        "SNS:Subscribe",
        "SNS:ListSubscriptionsByTopic",
        "SNS:Publish",
    ]
    return {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Sid": "__default_statement_ID",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": actions,
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
            }
        ],
    }


PROVIDERS: dict[str, Provider] = {
    "AWS::SNS::Topic": Topic(),
    "AWS::SNS::Subscription": Subscription(),
    "AWS::SNS::TopicInlinePolicy": TopicInlinePolicy(),
}
