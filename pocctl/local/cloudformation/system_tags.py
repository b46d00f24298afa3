"""Which resource types CloudFormation tags with its stack (aws:cloudformation:stack-name,
stack-id, logical-id): those whose registry schema sets `tagging.cloudFormationSystemTags`
(CloudFormation CLI User Guide, "Resource type schema": "whether or not the resource type
supports CloudFormation system tags"). Read from the us-east-1 schemas cfn-lint vendors
(cfnlint/data/schemas/providers/us-east-1.json). SQS queues and DynamoDB tables don't get them
although they take tags (cloudformation-coverage-roadmap #2079, #1360); the types that take no
tags at all don't either."""

from __future__ import annotations

SYSTEM_TAGS: dict[str, bool] = {
    "AWS::ApiGateway::RestApi": True,
    "AWS::ApiGateway::Stage": True,
    "AWS::CloudWatch::Alarm": True,
    "AWS::Lambda::EventSourceMapping": True,
    "AWS::Lambda::Function": True,
    "AWS::Logs::LogGroup": True,
    "AWS::SNS::Topic": True,
    "AWS::SQS::Queue": False,
    "AWS::DynamoDB::Table": False,
    "AWS::IAM::Role": False,
}


def gets_stack_tags(resource_type: str) -> bool:
    """Whether CloudFormation tags a resource of this type with its stack: not a type the table
    doesn't know (they take no tags: AWS::IAM::ManagedPolicy, AWS::SNS::Subscription, ...)."""
    return SYSTEM_TAGS.get(resource_type, False)
