"""The baseline `down` is measured against: the lab's stack as a plain boto3 script would make it.

It creates the same pieces as `pocctl up` (roles with their inline policies, the table with its
stream, three queues, the topic and its email subscription, two log groups, two functions, two
mappings, the REST API and its stage), one call after another, waiting with boto3's waiters
where there is one. Its teardown deletes what it made in reverse, one call after another, with
what it remembers from creating (no lookups), and waits for the table to go, as such a script
would.

    python bench/naive.py --endpoint-url http://127.0.0.1:4566   # create, then time the teardown
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import boto3

from pocctl.code.packaging import build_zip
from pocctl.core.config import Names
from pocctl.resources.policies import render

REGION = "us-east-1"
FAST = {"Delay": 1, "MaxAttempts": 120}  # boto3 waiters, polling every second


@dataclass
class Made:
    """What the script created and needs to delete it again."""

    roles: list[tuple[str, str]] = field(default_factory=list)  # (role, inline policy)
    table: str = ""
    queue_urls: list[str] = field(default_factory=list)
    topic_arn: str = ""
    subscription_arn: str = ""
    log_groups: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    mappings: list[str] = field(default_factory=list)
    api_id: str = ""


def clients(endpoint: str) -> dict[str, Any]:
    session = boto3.Session(
        aws_access_key_id="pocctl-local", aws_secret_access_key="pocctl-local", region_name=REGION
    )
    services = ("iam", "dynamodb", "sqs", "sns", "logs", "lambda", "apigateway", "sts")
    return {s: session.client(s, endpoint_url=endpoint) for s in services}


def create(c: dict[str, Any], stack: str, email: str) -> Made:
    n = Names(stack)
    made = Made()
    account = c["sts"].get_caller_identity()["Account"]

    def arn(service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{account}:{resource}"

    roles = (
        (n.writer_role, "trust-lambda", "order-writer"),
        (n.notifier_role, "trust-lambda", "order-notifier"),
        (n.api_role, "trust-apigateway", "api-to-queue"),
    )
    variables = {
        "queue_arn": arn("sqs", n.queue),
        "table_arn": arn("dynamodb", f"table/{n.table}"),
        "topic_arn": arn("sns", n.topic),
        "failure_queue_arn": arn("sqs", n.stream_failure_queue),
        "log_group_arn": arn("logs", "log-group:/aws/lambda/*"),
    }
    for role, trust, policy in roles:
        c["iam"].create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(render(trust, {})))
        c["iam"].get_waiter("role_exists").wait(RoleName=role, WaiterConfig=FAST)
        document = json.dumps(render(policy, variables))
        c["iam"].put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=document)
        made.roles.append((role, policy))

    c["dynamodb"].create_table(
        TableName=n.table,
        AttributeDefinitions=[{"AttributeName": "orderID", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "orderID", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    c["dynamodb"].get_waiter("table_exists").wait(TableName=n.table, WaiterConfig=FAST)
    made.table = n.table
    stream_arn = c["dynamodb"].describe_table(TableName=n.table)["Table"]["LatestStreamArn"]

    for name, attributes in (
        (n.dead_letter_queue, {}),
        (n.stream_failure_queue, {}),
        (
            n.queue,
            {
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": arn("sqs", n.dead_letter_queue), "maxReceiveCount": 3}
                )
            },
        ),
    ):
        made.queue_urls.append(
            c["sqs"].create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        )

    made.topic_arn = c["sns"].create_topic(Name=n.topic)["TopicArn"]
    made.subscription_arn = c["sns"].subscribe(
        TopicArn=made.topic_arn, Protocol="email", Endpoint=email, ReturnSubscriptionArn=True
    )["SubscriptionArn"]

    code = build_zip()
    for function, role, handler, environment in (
        (n.writer_function, n.writer_role, "order_writer.handler", {"TABLE_NAME": n.table}),
        (
            n.notifier_function,
            n.notifier_role,
            "order_notifier.handler",
            {"TOPIC_ARN": made.topic_arn},
        ),
    ):
        group = f"/aws/lambda/{function}"
        c["logs"].create_log_group(logGroupName=group)
        made.log_groups.append(group)
        c["lambda"].create_function(
            FunctionName=function,
            Runtime="python3.12",
            Role=f"arn:aws:iam::{account}:role/{role}",
            Handler=handler,
            Code={"ZipFile": code},
            Environment={"Variables": environment},
        )
        c["lambda"].get_waiter("function_active_v2").wait(FunctionName=function, WaiterConfig=FAST)
        made.functions.append(function)

    for function, source, extra in (
        (n.writer_function, arn("sqs", n.queue), {}),
        (n.notifier_function, stream_arn, {"StartingPosition": "TRIM_HORIZON"}),
    ):
        uuid = c["lambda"].create_event_source_mapping(
            FunctionName=function, EventSourceArn=source, **extra
        )["UUID"]
        while c["lambda"].get_event_source_mapping(UUID=uuid)["State"] != "Enabled":
            time.sleep(1)  # boto3 has no waiter for this
        made.mappings.append(uuid)

    api = c["apigateway"]
    made.api_id = api_id = api.create_rest_api(name=n.api)["id"]
    root = api.get_resources(restApiId=api_id)["items"][0]["id"]
    order = api.create_resource(restApiId=api_id, parentId=root, pathPart="order")["id"]
    api.put_method(restApiId=api_id, resourceId=order, httpMethod="POST", authorizationType="NONE")
    api.put_integration(
        restApiId=api_id,
        resourceId=order,
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{REGION}:sqs:path/{account}/{n.queue}",
        credentials=f"arn:aws:iam::{account}:role/{n.api_role}",
        requestParameters={
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
        },
        requestTemplates={"application/json": "Action=SendMessage&MessageBody=$input.body"},
    )
    api.put_method_response(restApiId=api_id, resourceId=order, httpMethod="POST", statusCode="200")
    api.put_integration_response(
        restApiId=api_id, resourceId=order, httpMethod="POST", statusCode="200"
    )
    api.create_deployment(restApiId=api_id, stageName="prod")
    return made


def teardown(c: dict[str, Any], made: Made) -> None:
    """Everything `create` made, in reverse, one call after another."""
    c["apigateway"].delete_rest_api(restApiId=made.api_id)
    for uuid in reversed(made.mappings):
        c["lambda"].delete_event_source_mapping(UUID=uuid)
    for function in reversed(made.functions):
        c["lambda"].delete_function(FunctionName=function)
    for group in reversed(made.log_groups):
        c["logs"].delete_log_group(logGroupName=group)
    # SNS refuses to unsubscribe a subscription pending confirmation (SNS Developer Guide,
    # "Deleting an Amazon SNS subscription and topic"): the topic's deletion takes it with it.
    with suppress(c["sns"].exceptions.InvalidParameterException):
        c["sns"].unsubscribe(SubscriptionArn=made.subscription_arn)
    c["sns"].delete_topic(TopicArn=made.topic_arn)
    for url in reversed(made.queue_urls):
        c["sqs"].delete_queue(QueueUrl=url)
    c["dynamodb"].delete_table(TableName=made.table)
    c["dynamodb"].get_waiter("table_not_exists").wait(TableName=made.table, WaiterConfig=FAST)
    for role, policy in reversed(made.roles):
        c["iam"].delete_role_policy(RoleName=role, PolicyName=policy)
        c["iam"].delete_role(RoleName=role)


def timed_teardown(endpoint: str, stack: str = "naive", email: str = "naive@example.com") -> float:
    """Create the stack, then return the seconds its teardown took, clients made included (as
    `pocctl down` is timed: a fresh process's)."""
    made = create(clients(endpoint), stack, email)
    started = time.monotonic()
    teardown(clients(endpoint), made)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    args = parser.parse_args()
    print(f"naive teardown: {timed_teardown(args.endpoint_url):.2f} s")


if __name__ == "__main__":
    main()
